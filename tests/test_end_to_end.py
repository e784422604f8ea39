"""Images through the whole embedded path: catalog row -> dispatcher -> deployment -> worker."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from prefect import get_client

from afs.catalog import default_catalog
from afs.deployments import CREATE_DEPLOYMENT_PATH, REGISTER_DEPLOYMENT_PATH
from afs.devstack.embedded import worker
from afs.devstack.samples import sample_partial_bitstream, xclbin_file
from afs.models import ImageRecord, RegisterFpgaImageRequest
from afs.orchestration.dispatch import (
    StartedRun,
    deployment_starter,
    dispatch_pending,
    registration_starter,
)
from afs.orchestration.farm import PACKAGING_QUEUE
from afs.settings import get_settings
from afs.status import FINISHED, ImageStatus
from tests.factory import (
    Tenant,
    assert_build_processes_end,
    build_owner,
    build_processes,
    discard_waiting_runs,
    read_log_tarball,
    sample_tarball,
    settle_undispatched_images,
    wait_for_vivado,
)


@pytest.fixture(scope="module")
def serving_worker(factory: None, session_dir: Path) -> Iterator[None]:
    # This module dispatches as the service does: images other tests left would be built too.
    settle_undispatched_images()
    discard_waiting_runs()
    with worker(session_dir / "logs"):
        yield


def dispatch_and_follow(image_id: str, timeout: float = 180) -> list[ImageStatus]:
    """Dispatch like the service does and collect every status the image shows until finished."""
    build, register = (
        deployment_starter(CREATE_DEPLOYMENT_PATH),
        registration_starter(REGISTER_DEPLOYMENT_PATH),
    )

    def start_run(record: ImageRecord) -> StartedRun:
        return (register if record.registered else build)(record)

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


def test_a_registered_bitstream_is_saved_by_a_packaging_worker_to_active(
    serving_worker: None, tenant: Tenant
) -> None:
    bit = sample_partial_bitstream()
    location = tenant.put("ocl/vadd.xclbin", xclbin_file(bit))
    request = RegisterFpgaImageRequest(location=location, name="registered", metadata={})
    image = default_catalog().register(tenant.project_id, request)

    assert dispatch_and_follow(image.id) == ["saving", "active"]
    record = default_catalog().get(image.id)
    assert record.attempts == 1
    assert record.metadata["bitstream"]["kind"] == "xclbin"
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(record.flow_run_id))
    assert run.work_queue_name == PACKAGING_QUEUE
    assert run.name == f"image-{image.id}"


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


def test_a_run_prefect_refuses_is_told_apart_from_prefect_being_down(
    serving_worker: None, tenant: Tenant, tmp_path: Path
) -> None:
    from afs.orchestration.dispatch import StartRefused

    image = submit(tenant, sample_tarball(tmp_path))
    unfit = image.model_copy(update={"name": "spaces are not allowed"})

    with pytest.raises(StartRefused, match="HTTP 409"):
        deployment_starter(CREATE_DEPLOYMENT_PATH)(unfit)
    default_catalog().mark_error(image.id, "CANCELLED: test over")


def test_cancelling_a_build_stops_vivado_and_ends_the_image_cancelled_with_logs(
    serving_worker: None, tenant: Tenant, tmp_path: Path
) -> None:
    from prefect import get_client
    from prefect.states import Cancelling

    image = submit(tenant, sample_tarball(tmp_path, emulator_fault="hang"))
    start_run = deployment_starter(CREATE_DEPLOYMENT_PATH)
    dispatch_pending(default_catalog(), start_run)
    deadline = time.monotonic() + 120
    while not build_processes(image.id):
        assert time.monotonic() < deadline, "vivado never started"
        time.sleep(0.2)

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(default_catalog().get(image.id).flow_run_id, Cancelling())
    seen = dispatch_and_follow(image.id, timeout=120)

    assert seen[-1] is ImageStatus.ERROR
    record = default_catalog().get(image.id)
    assert record.message.startswith("CANCELLED: "), record.message
    assert build_processes(image.id) == [], "no vivado process outlives the cancel"
    status = json.loads(read_log_tarball(tenant.get(f"dcp/{image.id}_log.tar"))["status.json"])
    assert status["message"] == record.message


def test_a_build_whose_process_is_killed_ends_worker_crashed_and_frees_the_quota(
    serving_worker: None, tenant: Tenant, tmp_path: Path
) -> None:
    """The worker sees its run's process die and runs the crash hook for it."""
    image = submit(tenant, sample_tarball(tmp_path, emulator_fault="hang"))
    dispatch_pending(default_catalog(), deployment_starter(CREATE_DEPLOYMENT_PATH))
    wait_for_vivado(image.id)
    os.kill(build_owner(image.id), signal.SIGKILL)  # no hook can run in the build's own process

    deadline = time.monotonic() + 60
    while (record := default_catalog().get(image.id)).status is not ImageStatus.ERROR:
        assert time.monotonic() < deadline, f"image still {record.status}"
        time.sleep(0.5)
    assert record.message.startswith("WORKER_CRASHED: "), record.message
    assert_build_processes_end(image.id)
    logs = read_log_tarball(tenant.get(f"dcp/{image.id}_log.tar"))
    assert json.loads(logs["status.json"])["message"] == record.message
    assert "vivado/vivado.log" in logs, "what the workspace held on the host"
    assert "fetched" in logs["run.log"].decode(), "the run's log as Prefect kept it"
    assert not (get_settings().builds_dir / image.id).exists(), "the workspace is removed"
    assert default_catalog().register(tenant.project_id, tenant.request("dcp/design.tar"))


@pytest.mark.parametrize(
    ("image", "field"),
    [
        ({"dcp_location": "Bad_Bucket:x.tar", "name": "n"}, "image.dcp_location"),
        ({"dcp_location": "bucket:x.tar", "name": "spaces are not allowed"}, "image.name"),
        ({"dcp_location": "bucket:x.tar"}, "image'. Failure reason: 'name' is a required"),
    ],
)
def test_the_deployment_rejects_a_bad_form_before_any_run_exists(
    serving_worker: None, tenant: Tenant, image: dict, field: str
) -> None:
    """What the Prefect UI's form submits is checked against the request's schema."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import PrefectHTTPStatusError

    with pytest.raises(PrefectHTTPStatusError, match="409 Conflict") as refused:
        run_deployment(
            CREATE_DEPLOYMENT_PATH,
            parameters={"image": image, "project_id": tenant.project_id},
            timeout=0,
            as_subflow=False,
        )
    assert f"Validation failed for field '{field}" in str(refused.value)
