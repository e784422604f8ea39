"""Reprocessing retries transient failures only, a bounded number of times."""

from __future__ import annotations

import uuid

import pytest

from afs.catalog import Catalog
from afs.models import FpgaImageRequest, ImageRecord, RegisterFpgaImageRequest
from afs.orchestration.dispatch import idempotency_key
from afs.orchestration.reprocess import requeue_transient_failures
from afs.status import ImageStatus

REQUEST = FpgaImageRequest(dcp_location="bucket:vu9p/dcp.tar", name="image")


def failed(catalog: Catalog, message: str, attempts: int = 1) -> ImageRecord:
    image = catalog.register(uuid.uuid4().hex, REQUEST)
    for _ in range(attempts):
        catalog.record_attempt(image.id, "run-1")  # Prefect's own retries of one run
    catalog.mark_error(image.id, message)
    return catalog.get(image.id)


@pytest.mark.parametrize(
    "message",
    ["WORKER_CRASHED: heartbeat lost", "INTERNAL_ERROR: bug", "STORAGE_UNAVAILABLE: 503"],
)
def test_a_transient_failure_goes_back_to_the_dispatcher(catalog: Catalog, message: str) -> None:
    image = failed(catalog, message)

    assert requeue_transient_failures(catalog, max_attempts=3) == [image.id]

    record = catalog.get(image.id)
    assert record.status is ImageStatus.INITIALING
    assert record.message is None
    assert record.flow_run_id is None
    assert [r.id for r in catalog.awaiting_dispatch()] == [image.id]
    assert idempotency_key(record) != image.id, "a new run, not the failed one again"


@pytest.mark.parametrize(
    "message",
    [
        "DCP_INTEGRITY_UNVERIFIED: sha256 differs",
        "TIMING_VIOLATION: WNS -0.1",
        "",
        "WORKER_CRASHED",
        "text mentioning WORKER_CRASHED: later",
    ],
)
def test_a_failure_of_the_input_is_never_retried(catalog: Catalog, message: str) -> None:
    image = catalog.register(uuid.uuid4().hex, REQUEST)
    catalog.mark_error(image.id, message)
    assert requeue_transient_failures(catalog, max_attempts=3) == []
    assert catalog.get(image.id).status is ImageStatus.ERROR


@pytest.mark.parametrize(
    "message",
    [
        "INPUT_SIZE_ILLEGAL: too big",
        "MANIFEST_PARSE_FAILED: nests too deep",
        "LOG_UPLOAD_FAILED: bucket gone",
        "CANCELLED: by the operator",
        "BUILD_TIMEOUT: 4 h",
    ],
)
def test_only_causes_that_say_nothing_about_the_input_are_retried(
    catalog: Catalog, message: str
) -> None:
    failed(catalog, message)
    assert requeue_transient_failures(catalog, max_attempts=3) == []


def test_an_internal_error_gets_one_more_build_only(catalog: Catalog) -> None:
    image = failed(catalog, "INTERNAL_ERROR: bug")
    assert requeue_transient_failures(catalog, max_attempts=3) == [image.id]
    catalog.record_attempt(image.id, "run-2")
    catalog.mark_error(image.id, "INTERNAL_ERROR: the same bug")

    assert requeue_transient_failures(catalog, max_attempts=3) == []
    assert catalog.get(image.id).status is ImageStatus.ERROR


def test_a_lost_worker_is_retried_up_to_the_attempt_limit(catalog: Catalog) -> None:
    image = failed(catalog, "WORKER_CRASHED: lost", attempts=2)
    assert requeue_transient_failures(catalog, max_attempts=3) == [image.id]


def test_an_image_out_of_attempts_stays_in_error(catalog: Catalog) -> None:
    image = failed(catalog, "WORKER_CRASHED: again", attempts=3)
    assert requeue_transient_failures(catalog, max_attempts=3) == []
    assert catalog.get(image.id).status is ImageStatus.ERROR


def test_a_project_busy_with_another_image_waits_for_the_next_round(catalog: Catalog) -> None:
    image = failed(catalog, "WORKER_CRASHED: lost")
    catalog.register(image.project_id, REQUEST)
    assert requeue_transient_failures(catalog, max_attempts=3) == []
    assert catalog.get(image.id).status is ImageStatus.ERROR


def test_permanent_failures_never_crowd_out_a_retryable_one(catalog: Catalog) -> None:
    for _ in range(120):
        failed(catalog, "DCP_INTEGRITY_UNVERIFIED: sha256 differs")
    retryable = failed(catalog, "WORKER_CRASHED: lost")
    assert requeue_transient_failures(catalog, max_attempts=3) == [retryable.id]


def test_each_requeue_gets_a_run_key_of_its_own(catalog: Catalog) -> None:
    image = failed(catalog, "WORKER_CRASHED: lost before it ran", attempts=0)
    keys = [idempotency_key(catalog.get(image.id))]
    for _ in range(2):
        requeue_transient_failures(catalog, max_attempts=3)
        keys.append(idempotency_key(catalog.get(image.id)))
        catalog.mark_error(image.id, "WORKER_CRASHED: lost again before it ran")
    assert len(set(keys)) == 3, keys


def test_an_image_whose_runs_never_start_is_bounded_too(catalog: Catalog) -> None:
    image = failed(catalog, "WORKER_CRASHED: lost before it ran", attempts=0)
    for _ in range(5):
        requeue_transient_failures(catalog, max_attempts=3)
        catalog.mark_error(image.id, "WORKER_CRASHED: lost before it ran again")

    assert catalog.get(image.id).requeues == 2, "three dispatches in all"


def test_a_registration_that_failed_transiently_goes_back_to_saving(catalog: Catalog) -> None:
    registration = RegisterFpgaImageRequest(
        location="bucket:fpga.bin", name="registered", metadata={"shell_type": "OCL"}
    )
    image = catalog.register(uuid.uuid4().hex, registration)
    catalog.record_attempt(image.id, "run-1", ImageStatus.SAVING)
    catalog.mark_error(image.id, "STORAGE_UNAVAILABLE: 503")

    assert requeue_transient_failures(catalog, max_attempts=3) == [image.id]

    record = catalog.get(image.id)
    assert (record.status, record.flow_run_id, record.requeues) == (ImageStatus.SAVING, None, 1)
    assert [r.id for r in catalog.awaiting_dispatch()] == [image.id]
    assert record.registration.metadata == {"shell_type": "OCL"}
