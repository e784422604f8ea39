"""DELETE /v1/{project_id}/cloudservers/fpga_image/{id}: the rules, and a real delete run."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from afs.catalog import default_catalog
from afs.flows.delete_fpga_image import delete_fpga_image
from afs.settings import get_settings
from afs.tenants import image_store_client
from tests.api.conftest import Project, active_image, failed_image
from tests.api.sdk import anew, error_of


def test_deleting_an_image_removes_its_file_and_then_its_record(project: Project) -> None:
    image_id = active_image(project)
    bucket, _, key = default_catalog().get(image_id).metadata["image_file"].partition(":")

    response = project.client.delete(image_id)

    assert response.status_code == 204
    assert response.content == b""
    (item,) = project.client.list().json()["fpgaimages"]
    assert item["status"] == "deleting"
    assert default_catalog().awaiting_delete()  # the outbox the dispatcher starts runs from

    state = delete_fpga_image(image_id=image_id, return_state=True)

    assert state.is_completed(), state.message
    assert project.client.list().json() == {"count": 0, "fpgaimages": []}
    with pytest.raises(ClientError):
        image_store_client(get_settings()).head_object(Bucket=bucket, Key=key)


def test_an_image_in_error_can_be_deleted(project: Project) -> None:
    image_id = failed_image(project)
    assert project.client.delete(image_id).status_code == 204
    assert delete_fpga_image(image_id=image_id, return_state=True).is_completed()
    assert project.client.list().json()["count"] == 0


def test_an_image_in_creation_cannot_be_deleted(project: Project) -> None:
    image_id = project.client.create(project.request()).json()["fpga_image"]["id"]
    response = project.client.delete(image_id)
    assert error_of(response) == (409, "AFS.0004")
    # The API's dispatcher may have moved it on already; any status of a creation is refused.
    message = response.json()["error"]["message"]
    assert any(f"is {status}:" in message for status in ("initialing", "scheduling", "creating"))


def test_an_image_being_deleted_cannot_be_deleted_again(project: Project) -> None:
    image_id = failed_image(project)
    assert project.client.delete(image_id).status_code == 204
    assert error_of(project.client.delete(image_id, **anew())) == (409, "AFS.0004")


def test_a_protected_image_cannot_be_deleted(project: Project) -> None:
    image_id = active_image(project)
    assert project.client.associate(image_id, ECS_IMAGE).status_code == 204
    response = project.client.delete(image_id)
    assert error_of(response) == (409, "AFS.0003")


def test_an_unknown_image_is_not_found(project: Project) -> None:
    assert error_of(project.client.delete("0" * 32)) == (404, "AFS.0002")


ECS_IMAGE = "5a7e0c4e-1b2c-4d3e-8f90-a1b2c3d4e5f6"
