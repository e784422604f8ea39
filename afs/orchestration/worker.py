"""A build host's Prefect workers: `afs worker` runs them until SIGTERM, then drains.

One process worker takes builds from the build queues of the tool versions this host has, at
most `limit` at once; one takes registrations from the packaging queue, which need no Vivado;
another (unless turned off) takes the maintenance pool's runs. On SIGTERM
or Ctrl-C both stop taking runs, and the builds in flight go on to their end; past the drain
timeout each is sent SIGTERM, which its flow turns into `error` WORKER_CRASHED (a cause that
reprocessing retries) after delivering the tenant's logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from prefect.workers.process import ProcessWorker
from pydantic import BaseModel

from afs.orchestration.farm import PACKAGING_LIMIT, PACKAGING_QUEUE, build_queues
from afs.settings import Settings

log = logging.getLogger(__name__)

MAINTENANCE_LIMIT = 4  # reconcile and reprocess run one at a time each; deletes are short
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class WorkerPlan(BaseModel):
    """What one Prefect worker of this host serves."""

    name: str
    pool: str
    queues: list[str] | None  # None: every queue of the pool
    limit: int


def host_plans(settings: Settings, limit: int, maintenance: bool) -> list[WorkerPlan]:
    """This host's workers: builds of the tool versions it has Vivado for, registrations, then
    maintenance."""
    host = socket.gethostname()
    have = [version for version in settings.tool_versions if version in settings.vivado_binaries]
    plans = [
        WorkerPlan(
            name=f"{host}-builds-{os.getpid()}",
            pool=settings.build_pool,
            queues=build_queues(have),
            limit=limit,
        ),
        WorkerPlan(
            name=f"{host}-packaging-{os.getpid()}",
            pool=settings.build_pool,
            queues=[PACKAGING_QUEUE],
            limit=PACKAGING_LIMIT,
        ),
    ]
    if maintenance:
        plans.append(
            WorkerPlan(
                name=f"{host}-maintenance-{os.getpid()}",
                pool=settings.maintenance_pool,
                queues=None,
                limit=MAINTENANCE_LIMIT,
            )
        )
    return plans


class DrainableWorker:
    """A process worker that can stop taking runs while the runs it started go on.

    It wraps Prefect's ProcessWorker rather than subclassing it: a subclass would take over the
    `process` worker type in Prefect's registry.
    """

    def __init__(self, plan: WorkerPlan) -> None:
        self.worker = ProcessWorker(
            work_pool_name=plan.pool, work_queues=plan.queues, name=plan.name, limit=plan.limit
        )
        self.taking_runs = True
        take_runs = self.worker.get_and_submit_flow_runs

        async def take_runs_unless_draining() -> list[Any]:
            return await take_runs() if self.taking_runs else []

        # The polling loop looks the method up when the worker starts.
        setattr(self.worker, "get_and_submit_flow_runs", take_runs_unless_draining)  # noqa: B010

    @property
    def runs_in_flight(self) -> int:
        return int(self.worker.limiter.borrowed_tokens) if self.worker.is_setup else 0

    async def start(self) -> None:
        await self.worker.start(printer=log.debug)


def _children() -> list[int]:
    """This process's child processes: the flow runs its workers started."""
    me = str(os.getpid())
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after it.
        if stat.rsplit(")", 1)[1].split()[1] == me:
            children.append(int(entry.name))
    return children


async def _wait_until_idle(workers: list[DrainableWorker], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(worker.runs_in_flight for worker in workers):
        if time.monotonic() >= deadline:
            return False
        await anyio.sleep(0.5)
    return True


async def drain_workers(
    workers: list[DrainableWorker], timeout: float, grace: float, say: Callable[[str], None]
) -> None:
    for worker in workers:
        worker.taking_runs = False
    busy = sum(worker.runs_in_flight for worker in workers)
    say(f"stopping: no new runs; waiting up to {timeout:g} s for {busy} run(s) in flight")
    if await _wait_until_idle(workers, timeout):
        return
    say("drain timeout reached: stopping the runs still in flight (their images end in error)")
    for pid in _children():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    if not await _wait_until_idle(workers, grace):
        say("runs still in flight after the grace period: killing them")


async def serve_host(
    plans: list[WorkerPlan],
    drain_timeout: float,
    stop_grace: float,
    say: Callable[[str], None],
) -> None:
    """Run one drainable process worker per plan until SIGTERM or SIGINT, then drain."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in _STOP_SIGNALS:
        loop.add_signal_handler(number, stop.set)
    workers = [DrainableWorker(plan) for plan in plans]
    async with anyio.create_task_group() as group:
        for worker in workers:
            group.start_soon(worker.start)
        await stop.wait()
        await drain_workers(workers, drain_timeout, stop_grace, say)
        group.cancel_scope.cancel()
    say("stopped")
