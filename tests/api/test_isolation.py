"""No project can read, list, delete or associate another project's images."""

from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import Project, active_image
from tests.api.sdk import error_of


@pytest.fixture
def victim_image(other_project: Project) -> str:
    image_id = active_image(other_project)
    assert other_project.client.associate(image_id, ECS).status_code == 204
    return image_id


ECS = "0c4b7f3e-9d1a-4e5b-8c2d-3f6a7b8c9d0e"


def own_url(attacker: Project, victim_image: str) -> dict[str, tuple[str, str, dict | None]]:
    """Each operation on the victim's image, through the attacker's own project URL."""
    base = f"/v1/{attacker.id}/cloudservers/fpga_image"
    body = {"image": {"id": str(uuid.uuid4())}}
    return {
        "read": ("GET", f"{base}/detail?fpga_image_id={victim_image}", None),
        "delete": ("DELETE", f"{base}/{victim_image}", None),
        "associate": ("POST", f"{base}/{victim_image}/association", body),
        "disassociate": ("DELETE", f"{base}/{victim_image}/association", {"image": {"id": ECS}}),
    }


def call(project: Project, method: str, target: str, body: dict | None):
    path, _, query = target.partition("?")
    params = dict(pair.split("=") for pair in query.split("&")) if query else None
    return project.client.call(method, path, body=body, query=params)


@pytest.mark.parametrize("operation", ["read", "delete", "associate", "disassociate"])
def test_through_its_own_project_another_projects_image_does_not_exist(
    project: Project, other_project: Project, victim_image: str, operation: str
) -> None:
    method, target, body = own_url(project, victim_image)[operation]
    response = call(project, method, target, body)
    if operation == "read":
        assert response.json() == {"count": 0, "fpgaimages": []}
    else:
        assert error_of(response) == (404, "AFS.0002")
    assert other_project.client.list().json()["fpgaimages"][0]["status"] == "active"


@pytest.mark.parametrize("operation", ["list", "read", "delete", "associate", "associations"])
def test_through_the_other_projects_url_every_operation_is_forbidden(
    project: Project, other_project: Project, victim_image: str, operation: str
) -> None:
    base = f"/v1/{other_project.id}/cloudservers/fpga_image"
    method, path, body, query = {
        "list": ("GET", f"{base}/detail", None, None),
        "read": ("GET", f"{base}/detail", None, {"fpga_image_id": victim_image}),
        "delete": ("DELETE", f"{base}/{victim_image}", None, None),
        "associate": ("POST", f"{base}/{victim_image}/association", {"image": {"id": ECS}}, None),
        "associations": ("GET", f"{base}/associations", None, {"image_id": ECS}),
    }[operation]
    response = project.client.call(method, path, body=body, query=query)
    assert error_of(response) == (403, "Ecs.0003")


def test_creating_in_another_project_is_forbidden(project: Project, other_project) -> None:
    response = project.client.call(
        "POST",
        f"/v2/{other_project.id}/cloudservers/fpga_image",
        body={"fpga_image": other_project.request()},
    )
    assert error_of(response) == (403, "Ecs.0003")


def test_associations_of_another_project_are_not_listed(project, other_project, victim_image):
    listed = project.client.associations(image_id=ECS).json()
    assert listed == {"associations": []}
    by_image = project.client.associations(fpga_image_id=victim_image).json()
    assert by_image == {"associations": []}
