"""GET /v1/{project_id}/cloudservers/fpga_image/detail: the fields, paging, the order."""

from __future__ import annotations

import re

from tests.api.conftest import Project, active_image, failed_image


def test_an_item_has_every_field_of_the_api(project: Project) -> None:
    image_id = active_image(project)

    body = project.client.list().json()

    assert body["count"] == 1
    (item,) = body["fpgaimages"]
    assert set(item) == {
        "id", "name", "description", "status", "size", "createdAt", "protected", "message",
        "metadata", "log_directory",
    }  # fmt: skip
    assert item["id"] == image_id
    assert item["status"] == "active"
    assert item["size"] == 3
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", item["createdAt"])
    assert item["protected"] is False
    assert item["message"] is None
    assert item["metadata"]["toolchain"] == "test"
    assert item["log_directory"] == f"{project.tenant.bucket}:vu9p"


def test_an_image_in_error_shows_its_message(project: Project) -> None:
    failed_image(project)
    (item,) = project.client.list().json()["fpgaimages"]
    assert item["status"] == "error"
    assert item["message"] == "DCP_CORRUPT: test"


def test_images_come_newest_first_and_page_by_page(project: Project) -> None:
    ids = [failed_image(project, f"image-{n}") for n in range(5)]
    newest_first = ids[::-1]

    everything = project.client.list().json()
    assert [item["id"] for item in everything["fpgaimages"]] == newest_first
    pages = [project.client.list(page=page, size=2).json() for page in (1, 2, 3, 4)]
    assert [p["count"] for p in pages] == [5, 5, 5, 5]
    assert [[item["id"] for item in p["fpgaimages"]] for p in pages] == [
        newest_first[0:2], newest_first[2:4], newest_first[4:], []
    ]  # fmt: skip


def test_fpga_image_id_selects_one_image_and_turns_paging_off(project: Project) -> None:
    ids = [failed_image(project, f"image-{n}") for n in range(3)]
    body = project.client.list(fpga_image_id=ids[0], page=3, size=1).json()
    assert body["count"] == 1
    assert [item["id"] for item in body["fpgaimages"]] == [ids[0]]
    assert project.client.list(fpga_image_id="0" * 32).json() == {"count": 0, "fpgaimages": []}


def test_empty_paging_parameters_mean_absent(project: Project) -> None:
    failed_image(project)
    assert project.client.list(page="", size="").json()["count"] == 1
