"""POST /v2/{project_id}/cloudservers/fpga_image: every rule of the spec, the quota, the DCP check,
the client token, and concurrent creates."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from afs.catalog import default_catalog
from tests.api.conftest import DCP_KEY, Project, new_project
from tests.api.sdk import error_of

OK = (200, None)
BAD = (400, "Ecs.0005")

# (fields of fpga_image, expected (status, code)); the DCP location is the project's unless given.
BODY_RULES = [
    ({}, OK),
    ({"log_directory": "vu9p/log", "description": "fpga description"}, OK),
    ({"log_directory": None, "description": None}, OK),
    ({"log_directory": "", "description": ""}, OK),
    ({"description": "中文描述。中文，english-_.,0 9"}, OK),
    ({"description": "x" * 255}, OK),
    ({"description": "x" * 256}, BAD),
    ({"description": "semi;colon"}, BAD),
    ({"description": "full-width！"}, BAD),
    ({"name": "a" * 64}, OK),
    ({"name": "a" * 65}, BAD),
    ({"name": ""}, BAD),
    ({"name": "with space"}, BAD),
    ({"name": "dot.ted"}, BAD),
    ({"name": None}, BAD),
    ({"name": 7}, BAD),
    ({"log_directory": "a" * 64}, OK),
    ({"log_directory": "a" * 65}, BAD),
    ({"log_directory": "/abs"}, BAD),
    ({"log_directory": "trailing/"}, BAD),
    ({"log_directory": "a//b"}, BAD),
    ({"log_directory": ".hidden/x"}, BAD),
    ({"log_directory": "a/b."}, BAD),
    ({"log_directory": "sp ace"}, BAD),
    ({"dcp_location": None}, BAD),
    ({"dcp_location": "no-colon.tar"}, BAD),
    ({"dcp_location": "ab:key.tar"}, BAD),
    ({"dcp_location": "a" * 64 + ":key.tar"}, BAD),
    ({"dcp_location": "Upper:key.tar"}, BAD),
    ({"dcp_location": "-bucket:key.tar"}, BAD),
    ({"dcp_location": "bucket-:key.tar"}, BAD),
    ({"dcp_location": "192.168.1.1:key.tar"}, BAD),
    ({"dcp_location": "bu..cket:key.tar"}, BAD),
    ({"dcp_location": "bu.-cket:key.tar"}, BAD),
    ({"dcp_location": "bu-.cket:key.tar"}, BAD),
    ({"dcp_location": "bucket:/key.tar"}, BAD),
    ({"dcp_location": "bucket:key.zip"}, BAD),
    ({"dcp_location": "bucket:" + "k" * 125 + ".tar"}, BAD),
    ({"dcp_location": "bucket:a//key.tar"}, BAD),
    ({"dcp_location": "bucket:.dir/key.tar"}, BAD),
    ({"dcp_location": "bucket:dir./key.tar"}, BAD),
    ({"dcp_location": "bucket:ke y.tar"}, BAD),
    ({"unknown": "field"}, BAD),
]


@pytest.mark.parametrize(("fields", "expected"), BODY_RULES)
def test_every_rule_of_the_spec(project: Project, fields: dict, expected: tuple) -> None:
    response = project.client.create({**project.request(), **fields})
    if expected == OK:
        assert response.status_code == 200, response.text
        created = response.json()["fpga_image"]
        assert created["status"] == "initialing"
        assert len(created["id"]) == 32
        assert int(created["id"], 16) >= 0
    else:
        assert error_of(response) == expected, response.text
        field = next(iter(fields))
        assert field in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ["fpga_image", "required"]),
        ({"fpga_image": "text"}, ["fpga_image", "object"]),
        ({"fpga_image": {}, "extra": 1}, ["extra", "not a known field"]),
        ([], ["JSON object"]),
    ],
)
def test_a_wrong_body_shape_names_the_field(project: Project, body, words) -> None:
    response = project.client.call("POST", f"/v2/{project.id}/cloudservers/fpga_image", body=body)
    assert error_of(response) == BAD
    for word in words:
        assert word in response.json()["error"]["message"]


def test_the_response_id_is_the_catalog_row_in_initialing(project: Project) -> None:
    response = project.client.create(project.request(log_directory="vu9p/log"))
    image_id = response.json()["fpga_image"]["id"]
    record = default_catalog().get(image_id)
    assert record.project_id == project.id
    assert record.status == "initialing"
    assert record.dcp_location == project.dcp_location


def test_a_bucket_the_project_does_not_own_is_its_own_error(project, other_project) -> None:
    response = project.client.create(project.request(dcp_location=other_project.dcp_location))
    assert error_of(response) == (403, "AFS.0005")
    message = response.json()["error"]["message"]
    assert other_project.tenant.bucket in message
    assert DCP_KEY in message


def test_a_missing_dcp_object_is_its_own_error(project: Project) -> None:
    location = f"{project.tenant.bucket}:vu9p/missing.tar"
    response = project.client.create(project.request(dcp_location=location))
    assert error_of(response) == (400, "AFS.0006")
    message = response.json()["error"]["message"]
    # The field, the object, the rule and the store's answer, each once.
    assert message == (
        f"fpga_image.dcp_location: object 'vu9p/missing.tar' in bucket "
        f"'{project.tenant.bucket}': cannot be read: 404 (HTTP 404)"
    )


def test_a_second_create_while_one_is_in_creation_names_that_image(project: Project) -> None:
    first = project.client.create(project.request()).json()["fpga_image"]["id"]
    second = project.client.create(project.request(name="second"))
    assert error_of(second) == (409, "AFS.0001")
    assert first in second.json()["error"]["message"]


def test_the_same_client_token_and_body_return_the_same_image(project: Project) -> None:
    token = {"X-Client-Token": "retry-1"}
    first = project.client.create(project.request(), sign_headers=token)
    again = project.client.create(project.request(), sign_headers=token)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert project.client.list().json()["count"] == 1


def test_the_same_client_token_with_another_body_is_a_conflict(project: Project) -> None:
    token = {"X-Client-Token": "retry-2"}
    first = project.client.create(project.request(), sign_headers=token)
    other = project.client.create(project.request(name="other"), sign_headers=token)
    assert first.status_code == 200
    assert error_of(other) == (409, "AFS.0008")


@pytest.mark.parametrize("token", ["", "x" * 65, "with space", "tab\there", "é"])
def test_a_malformed_client_token_is_invalid(project: Project, token: str) -> None:
    response = project.client.create(
        project.request(), headers={"X-Client-Token": token.encode().decode("latin-1")}
    )
    assert error_of(response) == BAD


def test_50_concurrent_creates_for_one_project_accept_exactly_one(project: Project) -> None:
    with ThreadPoolExecutor(16) as pool:
        responses = list(
            pool.map(lambda n: project.client.create(project.request(name=f"image-{n}")), range(50))
        )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [409] * 49
    assert {error_of(r)[1] for r in responses if r.status_code != 200} == {"AFS.0001"}
    assert project.client.list().json()["count"] == 1


def test_50_concurrent_creates_for_50_projects_are_all_accepted(
    api_url: str, s3_endpoint: str, credentials
) -> None:
    projects = [new_project(s3_endpoint, api_url, credentials) for _ in range(50)]
    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(lambda p: p.client.create(p.request()), projects))
    assert [response.status_code for response in responses] == [200] * 50
