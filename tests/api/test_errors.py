"""Every failure gets the cloud's error body: malformed requests, unknown routes, big bodies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from afs.errors import ApiErrorCode, FailureCause
from tests.api.conftest import Project
from tests.api.sdk import error_of


@pytest.mark.parametrize(
    ("raw", "content_type", "words"),
    [
        (b'{"fpga_image": ', "application/json", ["not valid JSON", "line 1"]),
        (b"\xff\xfe", "application/json", ["UTF-8"]),
        (b"", "application/json", ["body", "required"]),
        (b'{"fpga_image": {}}', "text/plain", ["Content-Type", "application/json"]),
    ],
)
def test_a_malformed_body_gets_ecs_0005(project: Project, raw, content_type, words) -> None:
    response = project.client.call(
        "POST",
        f"/v2/{project.id}/cloudservers/fpga_image",
        raw_body=raw,
        sign_headers={"Content-Type": content_type},
    )
    assert error_of(response) == (400, "Ecs.0005")
    for word in words:
        assert word in response.json()["error"]["message"]


def test_an_over_long_body_is_413(project: Project) -> None:
    response = project.client.create(project.request(description="x" * 100_000))
    assert error_of(response) == (413, "AFS.0012")


def test_an_over_long_chunked_body_is_413(project: Project) -> None:
    chunks = (b"x" * 8192 for _ in range(20))
    response = requests.post(
        f"{project.client.base_url}/v2/{project.id}/cloudservers/fpga_image",
        data=chunks,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert error_of(response) == (413, "AFS.0012")


def test_an_unknown_route_and_method_get_the_error_body(api_url: str) -> None:
    assert error_of(requests.get(f"{api_url}/v3/nothing", timeout=30)) == (404, "AFS.0013")
    put = requests.put(f"{api_url}/v2/{'a' * 32}/cloudservers/fpga_image", timeout=30)
    assert error_of(put) == (405, "AFS.0014")
    assert "POST" in put.headers["Allow"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page": 0, "size": 10}, "page"),
        ({"page": 65535, "size": 10}, "page"),
        ({"page": 1, "size": 0}, "size"),
        ({"page": 1, "size": 101}, "size"),
        ({"page": "one", "size": 10}, "page"),
        ({"page": 1}, "page and size"),
        ({"size": 1}, "page and size"),
        ({"fpga_image_id": "ABC"}, "fpga_image_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_list_parameters_name_the_parameter(project: Project, query, field) -> None:
    response = project.client.list(**query)
    assert error_of(response) == (400, "Ecs.0005")
    assert field in response.json()["error"]["message"]


def test_an_invalid_image_id_in_the_path_names_the_rule(project: Project) -> None:
    response = project.client.delete("not-an-id")
    assert error_of(response) == (400, "Ecs.0005")
    assert "fpga_image_id" in response.json()["error"]["message"]


def test_the_readme_holds_the_same_error_table_as_afs_errors() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rows = re.findall(r"^\| `([A-Za-z]+\.\d{4})` \| (\d{3}) \|", readme, re.MULTILINE)
    assert rows == [(code.code, str(code.status)) for code in ApiErrorCode]


def test_health_and_the_openapi_document_are_served(api_url: str) -> None:
    assert requests.get(f"{api_url}/health", timeout=30).json() == {"status": "ok"}
    document = requests.get(f"{api_url}/openapi.json", timeout=30).json()
    assert set(document["paths"]) == {
        "/v2/{project_id}/cloudservers/fpga_image",
        "/v1/{project_id}/cloudservers/fpga_image",
        "/v1/{project_id}/cloudservers/fpga_image/detail",
        "/v1/{project_id}/cloudservers/fpga_image/{fpga_image_id}",
        "/v1/{project_id}/cloudservers/fpga_image/{fpga_image_id}/association",
        "/v1/{project_id}/cloudservers/fpga_image/associations",
        "/health",
    }
    for path in (
        "/v2/{project_id}/cloudservers/fpga_image",
        "/v1/{project_id}/cloudservers/fpga_image",
    ):
        create = document["paths"][path]["post"]
        assert "requestBody" in create
        assert {"400", "401", "403", "409", "413", "500"} <= set(create["responses"])
    assert "CreateFpgaImageBody" in document["components"]["schemas"]


def test_the_readme_lists_every_failure_cause_and_no_other() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme.split("## Failure causes", 1)[1].split("\n## ", 1)[0]
    listed = {line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")}
    assert listed - {"code"} == {cause.value for cause in FailureCause}
