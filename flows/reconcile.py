"""Bring the catalog in line with Prefect's run states (afs.orchestration.reconcile): started by
the automation on a crashed image run, and every 15 minutes as a safety net. It also deletes the
maintenance runs past their retention (afs.orchestration.retention)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from prefect import flow, get_client, get_run_logger
from prefect.exceptions import ObjectNotFound

from afs.catalog import default_catalog
from afs.flows.reprocess import reprocess_fpga_images
from afs.orchestration.lifecycle import deliver_ended_run_logs
from afs.orchestration.naming import name_this_run
from afs.orchestration.reconcile import RunState, reconcile_images
from afs.orchestration.retention import prune_ended_runs
from afs.settings import get_settings


def read_run_state(flow_run_id: str) -> RunState | None:
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(UUID(flow_run_id))
        except ObjectNotFound:
            return None
    return RunState(type=run.state.type, message=run.state.message) if run.state else None


@flow(name="reconcile-fpga-images", persist_result=False)
def reconcile_fpga_images() -> int:
    changed = reconcile_images(default_catalog(), read_run_state, deliver_ended_run_logs)
    get_run_logger().info("%d image(s) brought in line with their runs", changed)
    retention = timedelta(days=get_settings().maintenance_run_retention_days)
    pruned = prune_ended_runs([reconcile_fpga_images.name, reprocess_fpga_images.name], retention)
    if pruned:
        get_run_logger().info("deleted %d maintenance run(s) older than %s", pruned, retention)
    name_this_run(f"reconcile: {changed} changed")
    return changed
