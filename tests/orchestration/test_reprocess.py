"""Reprocessing retries transient failures only, a bounded number of times."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from afs.catalog import Catalog
from afs.models import FpgaImageRequest, ImageRecord
from afs.orchestration.dispatch import idempotency_key
from afs.orchestration.reprocess import requeue_transient_failures
from afs.status import ImageStatus

REQUEST = FpgaImageRequest(dcp_location="bucket:vu9p/dcp.tar", name="image")


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.create_schema()
    return catalog


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
