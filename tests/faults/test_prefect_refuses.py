"""Prefect refusing an image's run (HTTP 409) every time it is asked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from afs.catalog import Catalog
from afs.deployments import CREATE_DEPLOYMENT_PATH
from afs.models import ImageRecord
from afs.orchestration.dispatch import StartedRun, deployment_starter, dispatch_pending
from afs.orchestration.reprocess import requeue_transient_failures
from tests.factory import Tenant
from tests.faults.conftest import DCP_KEY, BuildHost

pytestmark = pytest.mark.slow


def refused_start() -> Callable[[ImageRecord], StartedRun]:
    """Starts a run whose parameters the deployment's schema refuses, as a real 409 comes."""
    start = deployment_starter(CREATE_DEPLOYMENT_PATH)

    def unfit(record: ImageRecord) -> StartedRun:
        return start(record.model_copy(update={"name": "spaces are not allowed"}))

    return unfit


def test_an_image_prefect_refuses_is_retried_once_not_for_ever(
    host: BuildHost, tenant: Tenant, tmp_path: Path
) -> None:
    # A catalog of its own: reprocessing here must not requeue other tests' images.
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.create_schema()
    image = catalog.register(tenant.project_id, tenant.request(DCP_KEY))

    requeued = []
    for _ in range(3):  # three rounds of the dispatcher, each followed by reprocessing
        dispatch_pending(catalog, refused_start())
        assert catalog.get(image.id).message.startswith("INTERNAL_ERROR: ")
        requeued.append(requeue_transient_failures(catalog, max_attempts=3))

    assert requeued == [[image.id], [], []]
