"""Maintenance runs are deleted once past their retention; image runs and runs still going are
kept (afs.orchestration.retention, on a real Prefect server)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest
from prefect import Flow, get_client
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import State
from prefect.exceptions import ObjectNotFound
from prefect.states import Completed, Crashed, Running

from afs.flows.create_fpga_image import create_fpga_image
from afs.flows.reconcile import reconcile_fpga_images
from afs.flows.reprocess import reprocess_fpga_images
from afs.orchestration.retention import prune_ended_runs

MAINTENANCE = [reconcile_fpga_images.name, reprocess_fpga_images.name]


@pytest.fixture
def client(prefect_api: str) -> Iterator[SyncPrefectClient]:
    with get_client(sync_client=True) as client:
        yield client


def _run(client: SyncPrefectClient, flow: Flow[..., object], end: State | None) -> UUID:
    """A run of `flow` that started, and ended in `end` unless None."""
    run = client.create_flow_run(flow, state=Running())
    if end is not None:
        client.set_flow_run_state(run.id, end, force=True)
    return run.id


def _exists(client: SyncPrefectClient, run_id: UUID) -> bool:
    try:
        client.read_flow_run(run_id)
    except ObjectNotFound:
        return False
    return True


def test_only_ended_maintenance_runs_past_their_retention_are_deleted(
    client: SyncPrefectClient,
) -> None:
    ended_reconcile = _run(client, reconcile_fpga_images, Completed())
    crashed_reprocess = _run(client, reprocess_fpga_images, Crashed())
    running_reconcile = _run(client, reconcile_fpga_images, None)
    ended_build = _run(client, create_fpga_image, Completed())

    assert prune_ended_runs(MAINTENANCE, older_than=timedelta(days=7)) == 0, "all are recent"
    assert _exists(client, ended_reconcile)
    assert _exists(client, crashed_reprocess)

    assert prune_ended_runs(MAINTENANCE, older_than=timedelta(0)) >= 2
    assert not _exists(client, ended_reconcile)
    assert not _exists(client, crashed_reprocess)
    assert _exists(client, running_reconcile), "a run still going is kept"
    assert _exists(client, ended_build), "image runs are the tenants' history: kept"
    client.set_flow_run_state(running_reconcile, Completed(), force=True)
