"""Reprocessing retries transient failures only, a bounded number of times."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from afs.catalog import Catalog
from afs.dispatch import idempotency_key
from afs.models import FpgaImageRequest, ImageRecord
from afs.reprocess import requeue_transient_failures
from afs.status import ImageStatus

REQUEST = FpgaImageRequest(dcp_location="bucket:vu9p/dcp.tar", name="image")


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.create_schema()
    return catalog


def failed(catalog: Catalog, message: str, attempts: int = 1) -> ImageRecord:
    image = catalog.register(uuid.uuid4().hex, REQUEST)
    for attempt in range(attempts):
        catalog.record_attempt(image.id, f"run-{attempt}")
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
    "message", ["DCP_INTEGRITY_UNVERIFIED: sha256 differs", "TIMING_VIOLATION: WNS -0.1", None]
)
def test_a_failure_of_the_input_is_never_retried(catalog: Catalog, message: str | None) -> None:
    image = catalog.register(uuid.uuid4().hex, REQUEST)
    catalog.mark_error(image.id, message or "")
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
