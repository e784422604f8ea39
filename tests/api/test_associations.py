"""Associations: only active images, no duplicate pair, at most 10 per ECS image, protection."""

from __future__ import annotations

import uuid

from tests.api.conftest import Project, active_image, failed_image
from tests.api.sdk import anew, error_of


def ecs_image() -> str:
    return str(uuid.uuid4())


def test_an_associated_image_is_protected_until_its_last_association_goes(project: Project):
    image_id, first, second = active_image(project), ecs_image(), ecs_image()

    assert project.client.associate(image_id, first).status_code == 204
    assert project.client.associate(image_id, second).status_code == 204
    assert project.client.list().json()["fpgaimages"][0]["protected"] is True

    assert project.client.associate(image_id, first, method="DELETE").status_code == 204
    assert project.client.list().json()["fpgaimages"][0]["protected"] is True
    assert project.client.associate(image_id, second, method="DELETE").status_code == 204
    assert project.client.list().json()["fpgaimages"][0]["protected"] is False


def test_only_active_images_can_be_associated(project: Project) -> None:
    response = project.client.associate(failed_image(project), ecs_image())
    assert error_of(response) == (409, "AFS.0004")


def test_a_pair_cannot_be_associated_twice(project: Project) -> None:
    image_id, target = active_image(project), ecs_image()
    assert project.client.associate(image_id, target).status_code == 204
    assert error_of(project.client.associate(image_id, target, **anew())) == (409, "AFS.0009")


def test_an_ecs_image_takes_at_most_10_fpga_images(project: Project) -> None:
    target = ecs_image()
    images = [active_image(project, f"image-{n}") for n in range(11)]
    for image_id in images[:10]:
        assert project.client.associate(image_id, target).status_code == 204
    response = project.client.associate(images[10], target)
    assert error_of(response) == (409, "AFS.0010")
    assert target in response.json()["error"]["message"]


def test_removing_a_pair_that_does_not_exist_is_not_found(project: Project) -> None:
    response = project.client.associate(active_image(project), ecs_image(), method="DELETE")
    assert error_of(response) == (404, "AFS.0011")


def test_an_invalid_ecs_image_id_or_body_names_the_field(project: Project) -> None:
    image_id = active_image(project)
    response = project.client.associate(image_id, "not-a-uuid")
    assert error_of(response) == (400, "Ecs.0005")
    assert "image.id" in response.json()["error"]["message"]
    path = f"/v1/{project.id}/cloudservers/fpga_image/{image_id}/association"
    response = project.client.call("POST", path, body={"image": {"id": ecs_image(), "x": 1}})
    assert error_of(response) == (400, "Ecs.0005")


def test_associations_list_by_ecs_image_and_by_fpga_image(project: Project) -> None:
    one, two, target, other = active_image(project, "one"), active_image(project, "two"), \
        ecs_image(), ecs_image()  # fmt: skip
    for image_id, ecs in ((one, target), (two, target), (one, other)):
        assert project.client.associate(image_id, ecs).status_code == 204

    by_ecs = project.client.associations(image_id=target).json()["associations"]
    assert [entry["image_id"] for entry in by_ecs] == [target]
    assert {item["id"] for item in by_ecs[0]["fpgaimages"]} == {one, two}

    by_fpga = project.client.associations(fpga_image_id=one).json()["associations"]
    assert sorted(entry["image_id"] for entry in by_fpga) == sorted([target, other])
    assert project.client.associations().json() == {"associations": []}
