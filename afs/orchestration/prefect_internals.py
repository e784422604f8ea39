"""Everything the factory takes from Prefect beyond its public API, in one place.

Each function here leans on something Prefect does not promise to keep: a private attribute, a
method replaced on an instance, the UI's own storage format. tests/orchestration/
test_prefect_internals.py pins each on the Prefect version of pyproject.toml; a Prefect upgrade
that breaks one fails there, not in a build.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.logging.handlers import APILogWorker
from prefect.workers.process import ProcessWorker


def send_pending_run_logs(timeout: float = 5) -> None:
    """Send what this process logged for its runs and has yet to send, before reading the log
    back. The public APILogHandler.flush does not wait when an event loop is running."""
    APILogWorker.drain_all(timeout=timeout)


def take_runs_only_while(worker: ProcessWorker, taking_runs: Callable[[], bool]) -> None:
    """Make `worker` poll for new runs only while `taking_runs()` holds, the runs it started
    going on: Prefect's workers have no drain of their own. The polling loop looks the method up
    when the worker starts, so it is replaced on this instance before that."""
    take_runs = worker.get_and_submit_flow_runs

    async def take_runs_unless_draining() -> list[Any]:
        return await take_runs() if taking_runs() else []

    setattr(worker, "get_and_submit_flow_runs", take_runs_unless_draining)  # noqa: B010


def runs_in_flight(worker: ProcessWorker) -> int:
    """How many runs `worker` has started and not seen end: its limiter's borrowed slots."""
    return int(worker.limiter.borrowed_tokens) if worker.is_setup else 0


def save_flow_runs_view(client: SyncPrefectClient, name: str, flow_ids: Sequence[UUID]) -> None:
    """A saved filter of the UI's Runs page showing the runs of `flow_ids` only, in the UI's own
    (undocumented) format; a PUT with the same name replaces it."""
    view = {
        "name": name,
        "filters": [
            {"object": "flowRun", "property": "flow", "type": "", "operation": "",
             "value": [str(flow_id) for flow_id in flow_ids]},
        ],
    }  # fmt: skip
    client.request("PUT", "/saved_searches/", json=view).raise_for_status()
