"""Authentication against `afs serve`: SDK-signed and FP1-CLI-signed requests, and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from afs.catalog import default_catalog
from afs.wire import signing
from tests.api.conftest import Project, active_image, failed_image
from tests.api.sdk import SdkClient, error_of


def test_a_request_signed_by_the_sdk_signer_is_accepted(project: Project) -> None:
    response = project.client.list()
    assert response.status_code == 200, response.text
    assert response.json() == {"count": 0, "fpgaimages": []}


def test_the_sdk_signer_with_a_query_and_a_body_is_accepted(project: Project) -> None:
    assert project.client.list(page=1, size=10).status_code == 200
    response = project.client.create(project.request())
    assert response.status_code == 200, response.text


def test_the_sdk_credentials_project_header_is_accepted_when_it_is_the_urls(project: Project):
    response = project.client.call(
        "GET",
        f"/v1/{project.id}/cloudservers/fpga_image/detail",
        sign_headers={"X-Project-Id": project.id},
    )
    assert response.status_code == 200, response.text


def fp1_signed(project: Project, method: str, path: str, body: bytes = b"", **query: str):
    scope = signing.Scope(
        date=datetime.now(UTC).strftime("%Y%m%d"), region="cn-north-1", service="ecs"
    )
    url = f"{project.client.base_url}{path}"
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    headers = signing.sign(
        method, url, {"Content-Type": "application/json;charset=utf8"} if body else {}, body,
        access_key=project.client.access_key, secret_key=project.client.secret_key, scope=scope,
    )  # fmt: skip
    return requests.request(method, url, headers=headers, data=body, timeout=30)


def test_a_request_signed_the_fp1_cli_way_is_accepted(project: Project) -> None:
    body = b'{"fpga_image": {"dcp_location": "%s", "name": "fp1"}}' % project.dcp_location.encode()
    created = fp1_signed(project, "POST", f"/v2/{project.id}/cloudservers/fpga_image", body)
    assert created.status_code == 200, created.text
    listed = fp1_signed(
        project, "GET", f"/v1/{project.id}/cloudservers/fpga_image/detail", page="1", size="5"
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["count"] == 1


def old_date(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y%m%dT%H%M%SZ")


def test_a_date_skewed_by_more_than_15_minutes_is_refused(project: Project) -> None:
    path = f"/v1/{project.id}/cloudservers/fpga_image/detail"
    assert project.client.call("GET", path, sign_headers={"X-Sdk-Date": old_date(14)}).ok
    late = project.client.call("GET", path, sign_headers={"X-Sdk-Date": old_date(16)})
    assert error_of(late) == (401, "Common.0013")
    assert "X-Sdk-Date" in late.json()["error"]["message"]


def test_a_signature_replayed_with_an_altered_body_is_refused(project: Project) -> None:
    client = project.client
    original = client.create(project.request(name="signed"))
    assert original.status_code == 200, original.text
    altered = b'{"fpga_image": {"dcp_location": "%s", "name": "altered"}}' % (
        project.dcp_location.encode()
    )
    replayed = client.session.post(
        original.request.url, headers=dict(original.request.headers), data=altered, timeout=30
    )
    assert error_of(replayed) == (401, "Common.0013")
    # Refused because the body is not the one signed, before any replay check could refuse it.
    assert "the signature does not match the request" in replayed.json()["error"]["message"]
    assert "already received" not in replayed.json()["error"]["message"]


def resend(response: requests.Response) -> requests.Response:
    """The captured request sent again byte for byte, as an eavesdropper would."""
    sent = response.request
    return requests.request(
        sent.method, sent.url, headers=dict(sent.headers), data=sent.body, timeout=30
    )


def test_a_replayed_create_is_refused_and_creates_nothing(project: Project) -> None:
    original = project.client.create(project.request(name="once"))
    assert original.status_code == 200, original.text
    default_catalog().mark_error(original.json()["fpga_image"]["id"], "DCP_CORRUPT: test")

    replayed = resend(original)
    assert error_of(replayed) == (401, "Common.0013")
    assert "already received" in replayed.json()["error"]["message"]
    assert project.client.list().json()["count"] == 1


def test_a_replayed_delete_or_disassociation_is_refused(project: Project) -> None:
    image_id = active_image(project)
    ecs_image = "c4d0a8a0-5b5a-4c5e-9a7e-2f1f3c3e8d11"
    associated = project.client.associate(image_id, ecs_image)
    assert associated.status_code == 204
    disassociated = project.client.associate(image_id, ecs_image, method="DELETE")
    assert disassociated.status_code == 204
    # Replaying the association would undo the disassociation: refused.
    assert error_of(resend(associated)) == (401, "Common.0013")
    assert project.client.associations(image_id=ecs_image).json()["associations"] == []

    deleted = project.client.delete(image_id)
    assert deleted.status_code == 204
    assert error_of(resend(deleted)) == (401, "Common.0013")


def test_a_replayed_read_is_served(project: Project) -> None:
    listed = project.client.list()
    assert resend(listed).json() == listed.json()


def test_a_create_with_a_signed_client_token_may_be_resent_and_returns_the_same_image(
    project: Project,
) -> None:
    first = project.client.create(project.request(), sign_headers={"X-Client-Token": "retry-1"})
    assert first.status_code == 200, first.text
    assert resend(first).json() == first.json()


def test_a_resent_client_token_create_whose_image_is_gone_makes_no_other(project: Project) -> None:
    first = project.client.create(project.request(), sign_headers={"X-Client-Token": "retry-2"})
    assert first.status_code == 200, first.text
    image_id = first.json()["fpga_image"]["id"]
    catalog = default_catalog()
    catalog.mark_error(image_id, "DCP_CORRUPT: test")
    catalog.begin_delete(project.id, image_id)
    catalog.delete(image_id)

    assert error_of(resend(first)) == (401, "Common.0013")
    assert project.client.list().json()["count"] == 0


def test_a_client_token_header_does_not_let_a_delete_be_replayed(project: Project) -> None:
    image_id = failed_image(project)
    deleted = project.client.delete(image_id, sign_headers={"X-Client-Token": "not-for-deletes"})
    assert deleted.status_code == 204
    assert error_of(resend(deleted)) == (401, "Common.0013")


def test_an_altered_query_or_path_is_refused(project: Project) -> None:
    client = project.client
    response = client.list(page=1, size=10)
    headers = dict(response.request.headers)
    url = response.request.url.replace("size=10", "size=20")
    assert error_of(client.session.get(url, headers=headers, timeout=30)) == (401, "Common.0013")


@pytest.mark.parametrize(
    "change",
    [
        {"Authorization": None},
        {"X-Sdk-Date": None},
        {"X-Sdk-Date": "yesterday"},
        {"Authorization": "Bearer abc"},
    ],
)
def test_missing_or_malformed_signature_headers_are_refused(project: Project, change) -> None:
    client = project.client
    response = client.list()
    headers = {k: v for k, v in response.request.headers.items() if change.get(k, v) is not None}
    headers.update({k: v for k, v in change.items() if v is not None})
    refused = client.session.get(response.request.url, headers=headers, timeout=30)
    assert error_of(refused) == (401, "Common.0013")


def test_an_unknown_key_or_a_wrong_secret_is_refused(project: Project) -> None:
    unknown = SdkClient(project.client.base_url, "NOSUCHKEY0000000000", "x" * 40, project.id)
    assert error_of(unknown.list()) == (401, "Common.0013")
    wrong = SdkClient(project.client.base_url, project.client.access_key, "x" * 40, project.id)
    assert error_of(wrong.list()) == (401, "Common.0013")


def test_a_key_acting_on_another_project_is_forbidden(project: Project, other_project) -> None:
    client = project.client
    response = client.call("GET", f"/v1/{other_project.id}/cloudservers/fpga_image/detail")
    assert error_of(response) == (403, "Ecs.0003")


def test_a_credential_project_other_than_the_urls_is_ecs_0023(project: Project) -> None:
    response = project.client.call(
        "GET",
        f"/v1/{project.id}/cloudservers/fpga_image/detail",
        sign_headers={"X-Project-Id": "f" * 32},
    )
    assert error_of(response) == (400, "Ecs.0023")


def test_an_invalid_project_id_in_the_url_names_the_rule(project: Project) -> None:
    response = project.client.call("GET", "/v1/NOT-A-PROJECT/cloudservers/fpga_image/detail")
    assert error_of(response) == (400, "Ecs.0005")
    assert "project_id" in response.json()["error"]["message"]
