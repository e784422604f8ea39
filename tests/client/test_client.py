"""The typed client against a served API: signed calls, uploads, waiting, logs, and errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from afs.catalog import default_catalog
from afs.client import ApiError, ApiUnreachable, FactoryClient, FpgaImageNotFound
from afs.client.config import ClientConfig, ClientConfigError
from afs.models import FpgaImageRequest
from afs.status import ImageStatus
from tests.factory import Tenant, sample_tarball


def request(tenant: Tenant, key: str, **fields: str) -> FpgaImageRequest:
    fields = {"name": "client-image", **fields}
    return FpgaImageRequest(dcp_location=f"{tenant.bucket}:{key}", **fields)


def failed_image(tenant: Tenant, name: str) -> str:
    """An image as a failed build leaves it (the catalog's own calls: no build needed)."""
    tenant.put("dcp/old.tar", b"never built")
    catalog = default_catalog()
    record = catalog.register(tenant.project_id, request(tenant, "dcp/old.tar", name=name))
    catalog.mark_error(record.id, "DCP_CORRUPT: test")
    return record.id


def wait_until_gone(client: FactoryClient, image_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.show(image_id)
        except FpgaImageNotFound:
            return
        time.sleep(0.3)
    raise AssertionError(f"image {image_id} still listed after {timeout} s")


def test_create_uploads_a_big_tarball_in_parts_and_wait_follows_it_to_its_failure(
    client: FactoryClient, tenant: Tenant, tmp_path: Path
) -> None:
    tampered = sample_tarball(tmp_path, dcp_sha256="00" * 32)
    big = tmp_path / "big.tar"
    # Zero blocks after a tar's end are padding to every tar reader: > 8 MiB goes in two parts.
    big.write_bytes(tampered.ljust(9 * 1024 * 1024, b"\0"))
    sent: list[int] = []

    client.upload(big, f"{tenant.bucket}:dcp/big.tar", progress=sent.append)
    created = client.create(request(tenant, "dcp/big.tar"))
    seen: list[ImageStatus] = []
    finished = client.wait(
        created.id, seen=created.status, on_change=lambda item: seen.append(item.status)
    )

    assert sum(sent) == big.stat().st_size
    etag = tenant.client.head_object(Bucket=tenant.bucket, Key="dcp/big.tar")["ETag"]
    assert etag.strip('"').endswith("-2"), "a multipart upload's ETag counts its parts"
    assert created.status is ImageStatus.INITIALING
    assert seen[-1] is ImageStatus.ERROR
    assert finished.message.startswith("DCP_INTEGRITY_UNVERIFIED: ")


def test_an_image_is_followed_to_active_and_its_log_tarball_downloaded_and_listed(
    client: FactoryClient, tenant: Tenant, tmp_path: Path
) -> None:
    tarball = tmp_path / "dcp.tar"
    tarball.write_bytes(sample_tarball(tmp_path))
    client.upload(tarball, f"{tenant.bucket}:vu9p/dcp.tar")
    created = client.create(request(tenant, "vu9p/dcp.tar", log_directory="logs"))
    seen = [created.status]

    item = client.wait(
        created.id, seen=created.status, on_change=lambda i: seen.append(i.status), interval=0.2
    )
    logs = client.logs(created.id, tmp_path / "downloads")

    assert item.status is ImageStatus.ACTIVE
    assert len(seen) == len(set(seen)), f"each status is reported once: {seen}"
    assert seen[0] is ImageStatus.INITIALING
    assert seen[-1] is ImageStatus.ACTIVE
    assert item.metadata["image_file"].endswith(f"{created.id}.aei")
    assert logs.location == f"{tenant.bucket}:logs/{created.id}_log.tar"
    assert logs.path == tmp_path / "downloads" / f"{created.id}_log.tar"
    assert logs.path.stat().st_size > 0
    assert any(member.name.endswith("/status.json") for member in logs.members)


def test_list_show_and_delete_see_only_the_projects_images(
    client: FactoryClient, tenant: Tenant, factory_api: str, tmp_path: Path
) -> None:
    older = failed_image(tenant, "older")
    newer = failed_image(tenant, "newer")

    listed = client.list()
    paged = client.list(page=2, size=1)
    shown = client.show(newer)
    client.delete(newer)
    deleting = client.show(newer)

    assert listed.count == 2
    assert [item.id for item in listed.fpgaimages] == [newer, older]
    assert [item.id for item in paged.fpgaimages] == [older]
    assert shown.name == "newer"
    assert shown.message == "DCP_CORRUPT: test"
    assert deleting.status is ImageStatus.DELETING
    wait_until_gone(client, newer)  # the delete run removes it
    assert [item.id for item in client.list().fpgaimages] == [older]


def test_api_errors_carry_the_clouds_code_and_message(
    client: FactoryClient, config: ClientConfig, tenant: Tenant
) -> None:
    with pytest.raises(ApiError) as not_owned:
        client.create(FpgaImageRequest(dcp_location="someone-elses:dcp/x.tar", name="n"))
    with pytest.raises(ApiError) as missing_object:
        client.create(request(tenant, "dcp/absent.tar"))
    with pytest.raises(ApiError) as unknown_image:
        client.delete("0" * 32)
    wrong_secret = config.model_copy(update={"secret_key": SecretStr("not-the-secret")})
    with FactoryClient(wrong_secret) as impostor, pytest.raises(ApiError) as unsigned:
        impostor.list()

    assert (not_owned.value.status_code, not_owned.value.code) == (403, "AFS.0005")
    assert "someone-elses" in not_owned.value.message
    assert (missing_object.value.status_code, missing_object.value.code) == (400, "AFS.0006")
    assert "dcp/absent.tar" in missing_object.value.message
    assert (unknown_image.value.status_code, unknown_image.value.code) == (404, "AFS.0002")
    assert (unsigned.value.status_code, unsigned.value.code) == (401, "Common.0013")
    assert str(unsigned.value).startswith("Common.0013 (HTTP 401): ")


def test_showing_an_image_of_another_project_is_not_found(
    client: FactoryClient, factory_api: str, s3_endpoint: str
) -> None:
    other = Tenant(s3_endpoint)
    theirs = failed_image(other, "theirs")

    with pytest.raises(FpgaImageNotFound) as refused:
        client.show(theirs)

    assert refused.value.code == "AFS.0002"
    assert theirs in refused.value.message


def test_an_api_that_does_not_answer_is_reported_with_its_url(config: ClientConfig) -> None:
    from afs.devstack.localstack import free_port

    nowhere = config.model_copy(update={"api_url": f"http://127.0.0.1:{free_port()}"})

    with FactoryClient(nowhere) as client, pytest.raises(ApiUnreachable, match=nowhere.api_url):
        client.list()


def test_uploading_without_the_tenants_storage_keys_names_the_variables(
    config: ClientConfig, tmp_path: Path
) -> None:
    without_storage = config.model_copy(update={"storage": None})
    tarball = tmp_path / "dcp.tar"
    tarball.write_bytes(b"x")

    with FactoryClient(without_storage) as client, pytest.raises(ClientConfigError) as refused:
        client.upload(tarball, "bucket:dcp.tar")

    assert "AFS_STORAGE_ACCESS_KEY" in str(refused.value)
    assert "AFS_STORAGE_SECRET_KEY" in str(refused.value)
