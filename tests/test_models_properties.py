"""The create request's rules as properties: every value the spec allows is accepted as it is, and
every value that breaks one rule is refused with an error at its field that names that rule.

Valid values are built from the spec's words (the API specification's rules), not from afs.models'
code, so that the two are checked against each other. Each violation starts from a valid value and
breaks exactly one rule; the message must name that rule.
"""

from __future__ import annotations

import ipaddress
import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from afs.models import FpgaImageRequest

RULES = settings(max_examples=150, deadline=None, database=None, derandomize=True)

LOWER_DIGITS = string.ascii_lowercase + string.digits
OBJECT_CHARS = string.ascii_letters + string.digits + "_./-"
NAME_CHARS = string.ascii_letters + string.digits + "_-"
VALID = {"dcp_location": "obs-fpga:vu9p/fpga-vu9p-dcp.tar", "name": "fpga-image-test"}


def is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _joined(labels: list[str], separators: list[str]) -> str:
    return labels[0] + "".join(
        sep + label for sep, label in zip(separators, labels[1:], strict=False)
    )


# A bucket: labels of [a-z0-9] joined by '.' or runs of '-' (so it starts and ends with a letter or
# digit, and holds no '..', '.-' or '-.'), 3-63 characters, not an IP address.
BUCKETS = (
    st.builds(
        _joined,
        st.lists(st.text(LOWER_DIGITS, min_size=1, max_size=12), min_size=1, max_size=6),
        st.lists(st.sampled_from([".", "-", "--"]), min_size=5, max_size=5),
    )
    .filter(lambda bucket: 3 <= len(bucket) <= 63)
    .filter(lambda bucket: not is_ip_address(bucket))
)
# A directory level: characters of the object set but '/', not starting or ending with '.'.
LEVELS = st.text(OBJECT_CHARS.replace("/", ""), min_size=1, max_size=12).filter(
    lambda level: not (level.startswith(".") or level.endswith("."))
)
# A DCP key: directory levels, then a file name of the set ending in '.tar'; 4-128 characters.
KEYS = st.builds(
    lambda levels, stem: "/".join([*levels, stem + ".tar"]),
    st.lists(LEVELS, max_size=4),
    st.text(OBJECT_CHARS.replace("/", ""), max_size=20),
).filter(lambda key: len(key) <= 128)
LOCATIONS = st.builds(lambda bucket, key: f"{bucket}:{key}", BUCKETS, KEYS)
LOG_DIRECTORIES = (
    st.lists(LEVELS, min_size=1, max_size=5)
    .map("/".join)
    .filter(lambda directory: len(directory) <= 64)
)
NAMES = st.text(NAME_CHARS, min_size=1, max_size=64)
DESCRIPTION_CHARS = st.one_of(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5),
    st.sampled_from(["。", "，", *string.ascii_letters, *string.digits, "-", "_", ".", ",", " "]),
)
DESCRIPTIONS = st.text(DESCRIPTION_CHARS, min_size=1, max_size=255)


def outside(allowed: str | re.Pattern[str]) -> st.SearchStrategy[str]:
    """One character outside a set (a string of characters, or a pattern matching one)."""

    def is_outside(char: str) -> bool:
        if isinstance(allowed, str):
            return char not in allowed
        return allowed.fullmatch(char) is None

    return st.characters(codec="utf-8").filter(is_outside)


def inserted(value: str, text: str, where: int) -> str:
    at = where % (len(value) + 1)
    return value[:at] + text + value[at:]


def inside(value: str, text: str, where: int) -> str:
    """`text` put between two characters of `value`, neither first nor last."""
    at = 1 + where % (len(value) - 1)
    return value[:at] + text + value[at:]


def refusal(**fields: object) -> tuple[str, str]:
    """(field, message) of the single error a request with these fields gets."""
    with pytest.raises(ValidationError) as caught:
        FpgaImageRequest.model_validate({**VALID, **fields})
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return ".".join(map(str, errors[0]["loc"])), errors[0]["msg"]


# --- every valid value is accepted, as it is ------------------------------------------------------


@RULES
@given(LOCATIONS, st.one_of(st.none(), st.just(""), LOG_DIRECTORIES), NAMES)
def test_every_valid_request_is_accepted_as_sent(
    location: str, log_directory: str | None, name: str
) -> None:
    request = FpgaImageRequest(dcp_location=location, log_directory=log_directory, name=name)
    bucket, _, key = location.partition(":")
    assert (request.dcp_location, request.dcp_bucket, request.dcp_key) == (location, bucket, key)
    assert request.name == name
    assert request.log_directory == (log_directory or None)
    expected_prefix = log_directory or key.rpartition("/")[0]
    assert request.log_tarball_key("a" * 32) == "/".join(
        part for part in (expected_prefix, "a" * 32 + "_log.tar") if part
    )


@RULES
@given(st.one_of(st.none(), st.just(""), DESCRIPTIONS))
def test_every_valid_description_is_accepted_as_sent(description: str | None) -> None:
    assert FpgaImageRequest(**VALID, description=description).description == (description or None)


@RULES
@given(LOCATIONS, NAMES)
def test_the_forms_patterns_accept_every_valid_value(location: str, name: str) -> None:
    """The Prefect form pre-checks with these patterns: they must never refuse a valid request."""
    properties = FpgaImageRequest.model_json_schema()["properties"]
    assert re.fullmatch(properties["dcp_location"]["pattern"], location)
    assert re.fullmatch(properties["name"]["pattern"], name)


# --- dcp_location: each rule broken alone is refused by name --------------------------------------


@RULES
@given(BUCKETS, KEYS)
def test_a_location_without_a_colon_is_refused(bucket: str, key: str) -> None:
    assert refusal(dcp_location=f"{bucket}/{key}") == (
        "dcp_location",
        "Value error, must have the form 'bucket:file name', e.g. 'obs-fpga:vu9p/dcp.tar'",
    )


BUCKET_VIOLATIONS = st.one_of(
    st.builds(
        lambda bucket: (bucket, "bucket name must be 3-63 characters"),
        st.one_of(st.text(LOWER_DIGITS, max_size=2), st.text(LOWER_DIGITS, min_size=64)),
    ),
    st.builds(
        lambda bucket, char, where: (
            inserted(bucket[:62], char, where),
            "bucket name may contain only lowercase letters, digits, '.' and '-'",
        ),
        BUCKETS,
        outside(LOWER_DIGITS + ".-:"),  # a ':' would end the bucket name instead
        st.integers(),
    ),
    st.builds(
        lambda bucket, edge, at_start: (
            edge + bucket[:62] if at_start else bucket[:62] + edge,
            "bucket name must start and end with a lowercase letter or digit",
        ),
        BUCKETS,
        st.sampled_from(".-"),
        st.booleans(),
    ),
    st.builds(
        lambda bucket, pair, where: (
            inside(bucket[:61].rstrip(".-"), pair, where),
            "bucket name must not contain",
        ),
        BUCKETS,
        st.sampled_from(["..", ".-", "-."]),
        st.integers(0),
    ),
    st.builds(
        lambda address: (str(address), "bucket name must not be an IP address"),
        st.ip_addresses(v=4),
    ),
)


@RULES
@given(BUCKET_VIOLATIONS, KEYS)
def test_a_bucket_breaking_a_rule_is_refused_naming_it(
    violation: tuple[str, str], key: str
) -> None:
    bucket, rule = violation
    field, message = refusal(dcp_location=f"{bucket}:{key}")
    assert field == "dcp_location"
    assert rule in message


def with_level(key: str, level: str, where: int) -> str:
    """`key` with `level` among its directory levels; an empty one never first, which would
    start the key with '/'."""
    *levels, file_name = key.split("/")
    first = 1 if level == "" else 0
    at = first + where % (len(levels) + 1 - first)
    return "/".join([*levels[:at], level, *levels[at:], file_name])


KEY_VIOLATIONS = st.one_of(
    st.builds(
        lambda key: (key, "file name must be 4-128 characters"),
        st.one_of(st.text(OBJECT_CHARS, max_size=3), st.text(OBJECT_CHARS, min_size=129)),
    ),
    st.builds(
        lambda key, char, where: (
            inserted(key[:123], char, where % max(len(key[:123]) - 4, 1)),
            "file name may contain only letters, digits, '-', '_', '/' and '.'",
        ),
        KEYS,
        outside(OBJECT_CHARS),
        st.integers(0),
    ),
    st.builds(
        lambda key: ("/" + key[-127:], "file name must not start with '/'"),
        KEYS,
    ),
    st.builds(
        lambda key, suffix: (key[:-4] + suffix, "file name must end with '.tar'"),
        KEYS.filter(lambda key: 8 <= len(key) <= 125),
        st.sampled_from([".tgz", ".TAR", ".tar.gz", ".zip", "_tar", ".ta"]),
    ),
    st.builds(
        lambda key, where: (
            with_level(key, "", where),
            "directory must not contain an empty directory level ('//')",
        ),
        KEYS.filter(lambda key: "/" in key and len(key) <= 127),
        st.integers(0),
    ),
    st.builds(
        lambda key, level, where: (
            with_level(key, level, where),
            f"directory level {level!r} must not start or end with '.'",
        ),
        KEYS.filter(lambda key: len(key) <= 118),
        st.sampled_from([".", "..", ".git", "x.", ".x."]),
        st.integers(0),
    ),
)


@RULES
@given(BUCKETS, KEY_VIOLATIONS)
def test_a_file_name_breaking_a_rule_is_refused_naming_it(
    bucket: str, violation: tuple[str, str]
) -> None:
    key, rule = violation
    field, message = refusal(dcp_location=f"{bucket}:{key}")
    assert field == "dcp_location"
    assert rule in message


# --- log_directory --------------------------------------------------------------------------------

LOG_DIRECTORY_VIOLATIONS = st.one_of(
    st.builds(
        lambda directory: (directory, "must be 0-64 characters"),
        st.text(OBJECT_CHARS, min_size=65),
    ),
    st.builds(
        lambda directory, char, where: (
            inserted(directory[:63], char, where),
            "may contain only letters, digits, '-', '_', '/' and '.'",
        ),
        LOG_DIRECTORIES,
        outside(OBJECT_CHARS),
        st.integers(),
    ),
    st.builds(
        lambda directory, at_start: (
            "/" + directory[:63] if at_start else directory[:63] + "/",
            "must not start or end with '/'",
        ),
        LOG_DIRECTORIES,
        st.booleans(),
    ),
    st.builds(
        lambda levels, where: (
            "/".join(inserted_level(levels, "", where)),
            "directory must not contain an empty directory level ('//')",
        ),
        st.lists(LEVELS, min_size=2, max_size=4).filter(lambda levels: len("/".join(levels)) < 63),
        st.integers(0),
    ),
    st.builds(
        lambda levels, level, where: (
            "/".join(inserted_level(levels, level, where)),
            f"directory level {level!r} must not start or end with '.'",
        ),
        st.lists(LEVELS, min_size=1, max_size=4).filter(lambda levels: len("/".join(levels)) < 58),
        st.sampled_from([".", "..", ".git", "x.", ".x."]),
        st.integers(0),
    ),
)


def inserted_level(levels: list[str], level: str, where: int) -> list[str]:
    """`levels` with `level` among them; an empty one only between two others."""
    at = 1 + where % (len(levels) - 1) if level == "" else where % (len(levels) + 1)
    return [*levels[:at], level, *levels[at:]]


@RULES
@given(LOG_DIRECTORY_VIOLATIONS)
def test_a_log_directory_breaking_a_rule_is_refused_naming_it(
    violation: tuple[str, str],
) -> None:
    directory, rule = violation
    field, message = refusal(log_directory=directory)
    assert field == "log_directory"
    assert rule in message


# --- name and description -------------------------------------------------------------------------

NAME_VIOLATIONS = st.one_of(
    st.just(""),
    st.text(NAME_CHARS, min_size=65),
    st.builds(inserted, NAMES.map(lambda name: name[:63]), outside(NAME_CHARS), st.integers()),
)


@RULES
@given(NAME_VIOLATIONS)
def test_a_name_breaking_a_rule_is_refused_naming_it(name: str) -> None:
    field, message = refusal(name=name)
    assert field == "name"
    if 1 <= len(name) <= 64:
        assert "may contain only letters, digits, '_' and '-'" in message
        assert repr(name) in message
    else:
        assert f"must be 1-64 characters, got {len(name)}" in message


DESCRIPTION_CHAR = re.compile(r"[\u4e00-\u9fa5。，A-Za-z0-9\-_., ]")


@RULES
@given(st.text(DESCRIPTION_CHARS, min_size=256, max_size=400))
def test_a_description_too_long_is_refused_naming_the_rule(description: str) -> None:
    field, message = refusal(description=description)
    assert field == "description"
    assert f"must be 0-255 characters, got {len(description)}" in message


@RULES
@given(DESCRIPTIONS.map(lambda text: text[:254]), outside(DESCRIPTION_CHAR), st.integers())
def test_a_description_character_outside_the_set_is_refused_naming_it(
    description: str, char: str, where: int
) -> None:
    field, message = refusal(description=inserted(description, char, where))
    assert field == "description"
    assert f"character {char!r} is not allowed" in message


# --- the request as a whole -----------------------------------------------------------------------

FIELDS = {"dcp_location", "log_directory", "name", "description"}


@RULES
@given(st.text(min_size=1, max_size=20).filter(lambda field: field not in FIELDS))
def test_an_unknown_field_is_refused_by_its_name(field: str) -> None:
    assert refusal(**{field: "x"})[0] == field


@RULES
@given(
    st.sampled_from(sorted(FIELDS)),
    st.one_of(st.integers(), st.floats(), st.booleans(), st.lists(st.text(), max_size=2)),
)
def test_a_value_that_is_not_a_string_is_refused_at_its_field(field: str, value: object) -> None:
    assert refusal(**{field: value})[0] == field
