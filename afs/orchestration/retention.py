"""How long Prefect keeps the factory's maintenance runs.

Reconcile and reprocess run every 15 minutes, and more often when runs crash: kept for ever they
would crowd the Runs page and the database. Image runs (create, register, delete) are the
tenants' history and are kept. Prefect's own flow-run vacuum (PREFECT_SERVER_SERVICES_DB_VACUUM_
ENABLED=flow_runs) cannot tell the two apart, so it stays off and this deletes the maintenance
runs alone, through the public client.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import TERMINAL_STATES

# Runs deleted per call: a reconcile run stays short however large the backlog.
PRUNE_BATCH = 200


def prune_ended_runs(flow_names: list[str], older_than: timedelta) -> int:
    """Delete up to PRUNE_BATCH runs of `flow_names` that ended more than `older_than` ago;
    how many were deleted."""
    cutoff = datetime.now(UTC) - older_than
    with get_client(sync_client=True) as client:
        ended = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=flow_names)),
            flow_run_filter=FlowRunFilter(
                end_time=FlowRunFilterEndTime(before_=cutoff),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=list(TERMINAL_STATES))),
            ),
            limit=PRUNE_BATCH,
        )
        for run in ended:
            client.delete_flow_run(run.id)
    return len(ended)
