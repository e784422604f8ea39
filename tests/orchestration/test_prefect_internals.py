"""What afs.orchestration.prefect_internals takes from Prefect beyond its public API, pinned on the
Prefect version of pyproject.toml: an upgrade that changes one of them fails here."""

from __future__ import annotations

import asyncio
import inspect
import re
import tomllib
from pathlib import Path
from typing import Any

import prefect
import pytest
from prefect.logging.handlers import APILogWorker
from prefect.workers.base import BaseWorker
from prefect.workers.process import ProcessWorker

from afs.orchestration.prefect_internals import (
    runs_in_flight,
    send_pending_run_logs,
    take_runs_only_while,
)

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_prefect_installed_is_the_one_pinned() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    [pin] = [dependency for dependency in dependencies if dependency.startswith("prefect")]
    assert re.fullmatch(r"prefect==[\w.]+", pin), "an exact pin: these internals move between"
    assert prefect.__version__ == pin.removeprefix("prefect==")


def test_a_worker_polls_through_the_method_replaced_on_its_instance() -> None:
    # The polling loop is built from `self.get_and_submit_flow_runs` when the worker starts.
    assert "workload=self.get_and_submit_flow_runs" in inspect.getsource(BaseWorker.start)
    worker = ProcessWorker(work_pool_name="fpga-builders")
    polls: list[str] = []

    async def poll() -> list[Any]:
        polls.append("polled")
        return ["a run"]

    setattr(worker, "get_and_submit_flow_runs", poll)  # noqa: B010 - Prefect's own, stood in for
    taking = {"runs": True}
    take_runs_only_while(worker, lambda: taking["runs"])

    assert asyncio.run(worker.get_and_submit_flow_runs()) == ["a run"]
    taking["runs"] = False
    assert asyncio.run(worker.get_and_submit_flow_runs()) == []
    assert polls == ["polled"], "a draining worker does not even ask"


@pytest.mark.usefixtures("prefect_api")
def test_runs_in_flight_are_the_slots_a_set_up_worker_has_lent() -> None:
    async def lend_a_slot() -> tuple[int, int, int]:
        worker = ProcessWorker(work_pool_name="afs-internals-pin", limit=2)
        before_setup = runs_in_flight(worker)
        async with worker:
            idle = runs_in_flight(worker)
            await worker.limiter.acquire_on_behalf_of("a flow run")
            busy = runs_in_flight(worker)
            worker.limiter.release_on_behalf_of("a flow run")
        return before_setup, idle, busy

    assert asyncio.run(lend_a_slot()) == (0, 0, 1)


def test_pending_run_logs_are_sent_with_a_bounded_wait() -> None:
    assert "timeout" in inspect.signature(APILogWorker.drain_all).parameters
    send_pending_run_logs(timeout=1)  # nothing pending: returns at once
