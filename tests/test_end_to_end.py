"""Images through the whole embedded path: catalog row -> dispatcher -> deployment -> worker."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from afs.catalog import default_catalog
from afs.dispatch import deployment_starter, dispatch_pending
from afs.embedded import wait_for_deployment, worker
from afs.models import ImageRecord
from afs.status import FINISHED, ImageStatus
from deployments import CREATE_DEPLOYMENT_PATH
from tests.factory import Tenant, read_log_tarball, sample_tarball


@pytest.fixture(scope="module")
def serving_worker(factory: None, session_dir: Path) -> Iterator[None]:
    with worker(session_dir / "logs"):
        wait_for_deployment(CREATE_DEPLOYMENT_PATH)
        yield


def dispatch_and_follow(image_id: str, timeout: float = 180) -> list[ImageStatus]:
    """Dispatch like the service does and collect every status the image shows until finished."""
    start_run = deployment_starter(CREATE_DEPLOYMENT_PATH)
    seen = [default_catalog().get(image_id).status]
    deadline = time.monotonic() + timeout
    while seen[-1] not in FINISHED:
        assert time.monotonic() < deadline, f"image {image_id} stuck in {seen[-1]}"
        dispatch_pending(default_catalog(), start_run)
        status = default_catalog().get(image_id).status
        if status != seen[-1]:
            seen.append(status)
        time.sleep(0.1)
    return seen


def submit(tenant: Tenant, data: bytes) -> ImageRecord:
    tenant.put("dcp/design.tar", data)
    return default_catalog().register(tenant.project_id, tenant.request("dcp/design.tar"))


def test_an_image_goes_through_every_status_to_active(
    serving_worker: None, tenant: Tenant, tmp_path: Path
) -> None:
    image = submit(tenant, sample_tarball(tmp_path))

    seen = dispatch_and_follow(image.id)

    assert seen == ["initialing", "scheduling", "creating", "active"]
    record = default_catalog().get(image.id)
    assert record.attempts == 1
    logs = read_log_tarball(tenant.get(f"dcp/{image.id}_log.tar"))
    assert json.loads(logs["status.json"])["status"] == "active"


def test_a_tampered_tarball_ends_in_error_with_the_cause_in_the_bucket(
    serving_worker: None, tenant: Tenant, tmp_path: Path
) -> None:
    image = submit(tenant, sample_tarball(tmp_path, dcp_sha256="00" * 32))

    assert dispatch_and_follow(image.id)[-1] is ImageStatus.ERROR

    message = default_catalog().get(image.id).message
    assert message.startswith("DCP_INTEGRITY_UNVERIFIED: ")
    status = json.loads(read_log_tarball(tenant.get(f"dcp/{image.id}_log.tar"))["status.json"])
    assert status["status"] == "error"
    assert status["message"] == message


def test_dispatching_twice_makes_one_run(serving_worker: None, tenant: Tenant, tmp_path: Path):
    image = submit(tenant, sample_tarball(tmp_path))
    start_run = deployment_starter(CREATE_DEPLOYMENT_PATH)

    first, second = start_run(image), start_run(image)

    assert first.id == second.id
    dispatch_and_follow(image.id)
