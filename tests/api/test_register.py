"""POST /v1/{project_id}/cloudservers/fpga_image, the legacy register: its rules (as Huawei's doc
"注册FPGA镜像" and fisclient's checks give them), the same signing, quota, client token and error
bodies as the create, and registered images in the list, delete and associations."""

from __future__ import annotations

import json
import uuid

import pytest

from afs.catalog import default_catalog
from afs.models import USER_METADATA_KEY
from tests.api.conftest import Project
from tests.api.sdk import anew, error_of

OK = (200, None)
BAD = (400, "Ecs.0005")
FILE_KEY = "ocl/fpga.bin"
METADATA = {"shell_type": "OCL", "shell_version": "1.0"}


def registration(project: Project, **fields: object) -> dict[str, object]:
    location = project.tenant.put(FILE_KEY, b"checked by the register run, not the API")
    return {"location": location, "name": "registered", "metadata": METADATA, **fields}


def _metadata_of(length: int) -> dict[str, str]:
    """A metadata object whose JSON (as fisclient counts it) is `length` characters."""
    return {"k": "v" * (length - len(json.dumps({"k": ""})))}


# (fields of fpga_image, expected (status, code)); the location is the project's unless given.
RULES = [
    ({}, OK),
    ({"description": "中文描述。中文，english-_.,0 9"}, OK),
    ({"description": None}, OK),
    ({"description": "semi;colon"}, BAD),
    ({"name": "a" * 65}, BAD),
    ({"name": None}, BAD),
    ({"metadata": {}}, OK),
    ({"metadata": _metadata_of(1024)}, OK),
    ({"metadata": _metadata_of(1025)}, BAD),
    ({"metadata": '{"shell_type": "OCL"}'}, BAD),  # an object, not a string of one
    ({"metadata": [1, 2]}, BAD),
    ({"metadata": None}, BAD),
    ({"location": None}, BAD),
    ({"location": "no-colon.bin"}, BAD),
    ({"location": "Upper:fpga.bin"}, BAD),
    ({"location": "192.168.1.1:fpga.bin"}, BAD),
    ({"location": "bucket:fpga.tar"}, BAD),
    ({"location": "bucket:fpga.bit"}, BAD),
    ({"location": "bucket:/fpga.bin"}, BAD),
    ({"location": "bucket:a.b"}, BAD),  # under 4 characters with its suffix
    ({"location": "bucket:" + "k" * 61 + ".bin"}, BAD),  # 65 characters
    ({"location": "bucket:a//fpga.bin"}, BAD),
    ({"dcp_location": "bucket:dcp.tar"}, BAD),  # the create's field is not the register's
    ({"unknown": "field"}, BAD),
]


@pytest.mark.parametrize(("fields", "expected"), RULES)
def test_every_rule_of_the_register(project: Project, fields: dict, expected: tuple) -> None:
    response = project.client.register(registration(project, **fields))
    if expected == OK:
        assert response.status_code == 200, response.text
        created = response.json()["fpga_image"]
        assert created["status"] == "saving"
        assert len(created["id"]) == 32
    else:
        assert error_of(response) == expected, response.text
        field = next(iter(fields))
        assert field in response.json()["error"]["message"]


def test_a_file_name_of_64_characters_ending_in_xclbin_is_accepted(project: Project) -> None:
    key = "k" * 57 + ".xclbin"
    location = project.tenant.put(key, b"x")
    response = project.client.register(registration(project, location=location))
    assert response.status_code == 200, response.text


def test_the_answer_is_the_catalog_row_saving_with_the_tenants_metadata(project: Project) -> None:
    answer = project.client.register(registration(project, description="ocl image"))
    image_id = answer.json()["fpga_image"]["id"]
    record = default_catalog().get(image_id)
    assert (record.status, record.registered) == ("saving", True)
    assert record.metadata == {USER_METADATA_KEY: METADATA}

    [listed] = project.client.list(fpga_image_id=image_id).json()["fpgaimages"]
    assert listed["status"] == "saving"
    assert listed["log_directory"] is None  # saved, not built: no log tarball
    assert listed["metadata"] == {USER_METADATA_KEY: METADATA}
    assert listed["description"] == "ocl image"


def test_a_file_in_a_bucket_the_project_does_not_own_is_refused(
    project: Project, other_project: Project
) -> None:
    location = other_project.tenant.put(FILE_KEY, b"x")
    response = project.client.register(registration(project, location=location))
    assert error_of(response) == (403, "AFS.0005")
    assert response.json()["error"]["message"].startswith("fpga_image.location: ")


def test_a_missing_file_is_refused_naming_it(project: Project) -> None:
    location = f"{project.tenant.bucket}:ocl/missing.xclbin"
    response = project.client.register(registration(project, location=location))
    assert error_of(response) == (400, "AFS.0006")
    assert response.json()["error"]["message"] == (
        f"fpga_image.location: object 'ocl/missing.xclbin' in bucket "
        f"'{project.tenant.bucket}': cannot be read: 404 (HTTP 404)"
    )


def test_a_registration_and_a_create_share_the_one_image_quota(project: Project) -> None:
    saving = project.client.register(registration(project)).json()["fpga_image"]["id"]
    create = project.client.create(project.request())
    assert error_of(create) == (409, "AFS.0001")
    assert saving in create.json()["error"]["message"]
    again = project.client.register(registration(project, name="again"))
    assert error_of(again) == (409, "AFS.0001")


def test_the_same_client_token_and_body_return_the_same_registration(project: Project) -> None:
    token = {"X-Client-Token": "register-1"}
    first = project.client.register(registration(project), sign_headers=token)
    again = project.client.register(registration(project), sign_headers=token)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    other = project.client.register(registration(project, name="other"), sign_headers=token)
    assert error_of(other) == (409, "AFS.0008")


def test_an_unsigned_registration_is_refused(project: Project) -> None:
    response = project.client.session.post(
        f"{project.client.base_url}/v1/{project.id}/cloudservers/fpga_image",
        json={"fpga_image": registration(project)},
        timeout=30,
    )
    assert error_of(response) == (401, "Common.0013")


def test_a_registered_image_is_associated_and_deleted_like_a_built_one(project: Project) -> None:
    image_id = project.client.register(registration(project)).json()["fpga_image"]["id"]
    catalog = default_catalog()
    record = catalog.get(image_id)
    catalog.record_attempt(image_id, "run-1", record.status)
    catalog.mark_active(image_id, flow_run_id="run-1", size_mb=1, metadata=record.metadata)
    ecs_image = str(uuid.uuid4())

    assert project.client.associate(image_id, ecs_image).status_code == 204
    assert error_of(project.client.delete(image_id)) == (409, "AFS.0003")  # protected
    assert project.client.associate(image_id, ecs_image, "DELETE").status_code == 204
    assert project.client.delete(image_id, **anew()).status_code == 204  # signed anew
    [listed] = project.client.list(fpga_image_id=image_id).json()["fpgaimages"]
    assert listed["status"] == "deleting"
