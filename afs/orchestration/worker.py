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
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
from prefect.workers.process import ProcessWorker
from pydantic import BaseModel

from afs.orchestration.farm import PACKAGING_LIMIT, PACKAGING_QUEUE, build_queues
from afs.orchestration.prefect_internals import runs_in_flight, take_runs_only_while
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
        take_runs_only_while(self.worker, lambda: self.taking_runs)

    @property
    def runs_in_flight(self) -> int:
        return runs_in_flight(self.worker)

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


class WorkerHealth(BaseModel):
    polling: bool  # asked Prefect for runs within its polling window
    taking_runs: bool  # False while draining
    runs_in_flight: int


class HostHealth(BaseModel):
    healthy: bool
    workers: dict[str, WorkerHealth]


def host_health(workers: list[DrainableWorker], query_seconds: float) -> HostHealth:
    """Healthy while every worker polls Prefect, or drains: a draining host is not restarted
    under its runs."""
    states = {
        each.worker.name: WorkerHealth(
            polling=each.worker.is_worker_still_polling(query_seconds),
            taking_runs=each.taking_runs,
            runs_in_flight=each.runs_in_flight,
        )
        for each in workers
    }
    healthy = all(state.polling or not state.taking_runs for state in states.values())
    return HostHealth(healthy=healthy, workers=states)


@contextlib.contextmanager
def health_server(
    address: tuple[str, int], health: Callable[[], HostHealth]
) -> Iterator[ThreadingHTTPServer]:
    """GET /health: 200 and the workers' states while healthy, else 503 (as Prefect's
    `--with-healthcheck` answers, for service managers). A thread of its own: it answers even
    while the workers' event loop is busy."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/health":
                self.send_error(404)
                return
            state = health()
            body = state.model_dump_json().encode()
            self.send_response(200 if state.healthy else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

    server = ThreadingHTTPServer(address, Handler)
    thread = threading.Thread(target=server.serve_forever, name="afs-worker-health", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


async def serve_host(
    plans: list[WorkerPlan],
    drain_timeout: float,
    stop_grace: float,
    say: Callable[[str], None],
    health_address: tuple[str, int] | None = None,
) -> None:
    """Run one drainable process worker per plan until SIGTERM or SIGINT, then drain; with
    `health_address`, answer health checks there meanwhile."""
    from prefect.settings import PREFECT_WORKER_QUERY_SECONDS

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in _STOP_SIGNALS:
        loop.add_signal_handler(number, stop.set)
    workers = [DrainableWorker(plan) for plan in plans]
    query_seconds = float(PREFECT_WORKER_QUERY_SECONDS.value())
    with contextlib.ExitStack() as serving:
        if health_address is not None:
            server = serving.enter_context(
                health_server(health_address, lambda: host_health(workers, query_seconds))
            )
            host, port = server.server_address[:2]
            say(f"health check on http://{host!s}:{port}/health")
        async with anyio.create_task_group() as group:
            for worker in workers:
                group.start_soon(worker.start)
            await stop.wait()
            await drain_workers(workers, drain_timeout, stop_grace, say)
            group.cancel_scope.cancel()
    say("stopped")
