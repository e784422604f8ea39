"""The create request's rules, each at its boundaries: the last valid value, the first invalid."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from afs.models import CreateFpgaImageBody, FpgaImageRequest

VALID = {"dcp_location": "obs-fpga:vu9p/fpga-vu9p-dcp.tar", "name": "fpga-image-test"}


def request(**fields) -> FpgaImageRequest:
    return FpgaImageRequest(**{**VALID, **fields})


def rejection(**fields) -> tuple[str, str]:
    """(field, message) of the single error a request with these fields gets."""
    with pytest.raises(ValidationError) as caught:
        request(**fields)
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return str(errors[0]["loc"][0]), errors[0]["msg"]


def test_the_spec_example_is_accepted() -> None:
    accepted = FpgaImageRequest(
        dcp_location="obs-fpga:vu9p/fpga-vu9p-dcp.tar",
        log_directory="vu9p/log",
        name="fpga-image-test",
        description="fpga description",
    )
    assert accepted.dcp_bucket == "obs-fpga"
    assert accepted.dcp_key == "vu9p/fpga-vu9p-dcp.tar"
    assert accepted.log_tarball_key("4010a32c5c62bad9015c62dc2290002b") == (
        "vu9p/log/4010a32c5c62bad9015c62dc2290002b_log.tar"
    )


# ---- dcp_location: bucket -------------------------------------------------------------------


@pytest.mark.parametrize(
    "bucket",
    ["abc", "a" * 63, "a.b-c", "0bucket9", "my.bucket.1", "1.2.3"],
)
def test_bucket_names_within_the_rules_are_accepted(bucket: str) -> None:
    assert request(dcp_location=f"{bucket}:dcp.tar").dcp_bucket == bucket


@pytest.mark.parametrize(
    ("bucket", "rule"),
    [
        ("ab", "3-63 characters"),
        ("a" * 64, "3-63 characters"),
        ("Abc", "only lowercase letters"),
        ("ab_c", "only lowercase letters"),
        ("-abc", "start and end"),
        ("abc.", "start and end"),
        ("a..b", "'..'"),
        ("a.-b", "'.-'"),
        ("a-.b", "'-.'"),
        ("192.168.1.1", "IP address"),
    ],
)
def test_bucket_names_breaking_a_rule_are_rejected_naming_it(bucket: str, rule: str) -> None:
    field, message = rejection(dcp_location=f"{bucket}:dcp.tar")
    assert field == "dcp_location"
    assert "bucket name" in message
    assert rule in message


# ---- dcp_location: file name ----------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [".tar", "x" * 124 + ".tar", "a/b/c.tar", "A_b-c.d/e.tar", "dir.x/y.tar"],
)
def test_file_names_within_the_rules_are_accepted(key: str) -> None:
    assert request(dcp_location=f"bucket:{key}").dcp_key == key


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("tar", "4-128 characters"),
        ("x" * 125 + ".tar", "4-128 characters"),
        ("/abs.tar", "must not start with '/'"),
        ("dcp.tgz", "must end with '.tar'"),
        ("dcp.tar.gz", "must end with '.tar'"),
        ("a b.tar", "only letters"),
        ("a:b.tar", "only letters"),
        ("a//b.tar", "empty directory level"),
        (".hidden/b.tar", "must not start or end with '.'"),
        ("dir./b.tar", "must not start or end with '.'"),
        ("../b.tar", "must not start or end with '.'"),
    ],
)
def test_file_names_breaking_a_rule_are_rejected_naming_it(key: str, rule: str) -> None:
    field, message = rejection(dcp_location=f"bucket:{key}")
    assert field == "dcp_location"
    assert rule in message


def test_a_location_without_a_colon_is_rejected_with_the_expected_form() -> None:
    field, message = rejection(dcp_location="bucket/dcp.tar")
    assert field == "dcp_location"
    assert "'bucket:file name'" in message


def test_dcp_location_is_required() -> None:
    with pytest.raises(ValidationError) as caught:
        FpgaImageRequest(name="n")
    assert [error["loc"] for error in caught.value.errors()] == [("dcp_location",)]


# ---- log_directory --------------------------------------------------------------------------


@pytest.mark.parametrize("absent", [None, ""])
def test_an_absent_log_directory_means_the_dcps_own_directory(absent: str | None) -> None:
    accepted = request(dcp_location="bkt:vu9p/dcp/x.tar", log_directory=absent)
    assert accepted.log_directory is None
    assert accepted.log_tarball_key("abc") == "vu9p/dcp/abc_log.tar"


def test_a_dcp_at_the_bucket_root_gets_its_logs_at_the_root() -> None:
    assert request(dcp_location="bkt:x.tar").log_tarball_key("abc") == "abc_log.tar"


@pytest.mark.parametrize("directory", ["l", "x" * 64, "vu9p/log", "a.b/c-d_e"])
def test_log_directories_within_the_rules_are_accepted(directory: str) -> None:
    assert request(log_directory=directory).log_directory == directory


@pytest.mark.parametrize(
    ("directory", "rule"),
    [
        ("x" * 65, "0-64 characters"),
        ("/log", "must not start or end with '/'"),
        ("log/", "must not start or end with '/'"),
        ("a//b", "empty directory level"),
        (".log", "must not start or end with '.'"),
        ("log./x", "must not start or end with '.'"),
        ("log dir", "only letters"),
    ],
)
def test_log_directories_breaking_a_rule_are_rejected_naming_it(directory: str, rule: str) -> None:
    field, message = rejection(log_directory=directory)
    assert field == "log_directory"
    assert rule in message


# ---- name -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "x" * 64, "A-b_9"])
def test_names_within_the_rules_are_accepted(name: str) -> None:
    assert request(name=name).name == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "must be 1-64 characters, got 0"),
        ("x" * 65, "must be 1-64 characters, got 65"),
        ("a b", "may contain only letters, digits, '_' and '-', got 'a b' (' ' at position 2)"),
        ("a.b", "got 'a.b' ('.' at position 2)"),
        ("名字", "got '名字' ('名' at position 1)"),
        ("bad name!", "got 'bad name!' (' ' at position 4)"),
    ],
)
def test_names_breaking_a_rule_are_rejected_naming_the_rule_broken(name: str, rule: str) -> None:
    """The length rule only when the length is wrong; otherwise the character at fault."""
    field, message = rejection(name=name)
    assert field == "name"
    assert rule in message


def test_name_is_required() -> None:
    with pytest.raises(ValidationError) as caught:
        FpgaImageRequest(dcp_location=VALID["dcp_location"])
    assert [error["loc"] for error in caught.value.errors()] == [("name",)]


# ---- description ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "description",
    ["x" * 255, "中文描述。第二句，结束", "Mixed 中文 a-b_c.d,e", "\u4e00\u9fa5"],
)
def test_descriptions_within_the_rules_are_accepted(description: str) -> None:
    assert request(description=description).description == description


@pytest.mark.parametrize("absent", [None, ""])
def test_an_absent_description_is_none(absent: str | None) -> None:
    assert request(description=absent).description is None


def test_a_description_one_character_too_long_is_rejected() -> None:
    field, message = rejection(description="x" * 256)
    assert field == "description"
    assert "0-255 characters" in message


@pytest.mark.parametrize("bad", ["!", "\n", "\u9fa6", "、", "<", "é", "\uff01"])
def test_description_characters_outside_the_set_are_rejected_naming_the_character(
    bad: str,
) -> None:
    field, message = rejection(description=f"ok {bad} ok")
    assert field == "description"
    assert repr(bad) in message


# ---- the body as a whole --------------------------------------------------------------------


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        request(colour="blue")
    assert caught.value.errors()[0]["loc"] == ("colour",)


def test_the_body_wraps_the_request_in_fpga_image() -> None:
    body = CreateFpgaImageBody.model_validate({"fpga_image": {**VALID, "log_directory": None}})
    assert body.fpga_image.name == VALID["name"]


def test_wrong_types_are_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        FpgaImageRequest.model_validate({**VALID, "name": 42})
    assert caught.value.errors()[0]["loc"] == ("name",)


def test_the_json_schema_documents_every_field_for_the_prefect_form() -> None:
    properties = FpgaImageRequest.model_json_schema()["properties"]
    assert set(properties) == {"dcp_location", "log_directory", "name", "description"}
    assert all(properties[field].get("description") for field in properties)


def test_the_forms_patterns_accept_every_valid_value() -> None:
    """The UI's JSON-schema patterns pre-check input; they must never refuse a valid request."""
    import re

    properties = FpgaImageRequest.model_json_schema()["properties"]
    locations = ["abc:.tar", f"{'a' * 63}:{'x' * 124}.tar", "a.b-c:A_b-c.d/e.tar", "1.2.3:a/b.tar"]
    for location in locations:
        assert re.fullmatch(
            properties["dcp_location"]["pattern"], request(dcp_location=location).dcp_location
        )
    for name in ["a", "x" * 64, "A-b_9"]:
        assert re.fullmatch(properties["name"]["pattern"], request(name=name).name)
