"""`afs worker`: which pools and queues a build host serves and how many runs at once, its
drain, and its health check."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from afs.devstack.localstack import free_port
from afs.orchestration.farm import PACKAGING_LIMIT
from afs.orchestration.worker import (
    MAINTENANCE_LIMIT,
    HostHealth,
    drain_workers,
    health_server,
    host_health,
    host_plans,
)
from afs.settings import Settings


def settings_with(tmp_path: Path, binaries: dict[str, str]) -> Settings:
    return Settings(home=tmp_path, vivado_binaries=binaries)


def test_a_host_serves_the_build_queues_of_the_tool_versions_it_has(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, {"2017.2": "/opt/vivado-2017.2/bin/vivado"})

    builds, packaging, maintenance = host_plans(settings, limit=3, maintenance=True)

    assert (builds.pool, builds.queues, builds.limit) == ("fpga-builders", ["vivado-2017.2"], 3)
    # Registrations need no Vivado: every host serves them, beside its builds' slots.
    assert (packaging.pool, packaging.queues) == ("fpga-builders", ["bitstream-packaging"])
    assert packaging.limit == PACKAGING_LIMIT
    assert (maintenance.pool, maintenance.queues) == ("afs-maintenance", None)
    assert maintenance.limit == MAINTENANCE_LIMIT


def test_a_vivado_for_a_version_the_factory_does_not_build_gets_no_queue(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, {"2016.4": "/opt/old/vivado", "2017.4.op": "/opt/op/vivado"})

    builds, _ = host_plans(settings, limit=1, maintenance=False)

    assert builds.queues == ["vivado-2017.4.op"]


def test_worker_names_say_host_role_and_process(tmp_path: Path) -> None:
    """`afs worker`'s start-up waits for its build worker by this name in the pool."""
    import os
    import socket

    plans = host_plans(settings_with(tmp_path, {"2017.2": "v"}), limit=1, maintenance=True)

    assert [plan.name for plan in plans] == [
        f"{socket.gethostname()}-builds-{os.getpid()}",
        f"{socket.gethostname()}-packaging-{os.getpid()}",
        f"{socket.gethostname()}-maintenance-{os.getpid()}",
    ]


class FinishingWorker:
    """Stands in for a DrainableWorker whose runs end one per check."""

    def __init__(self, runs: int) -> None:
        self.taking_runs = True
        self._runs = runs

    @property
    def runs_in_flight(self) -> int:
        self._runs = max(0, self._runs - 1)
        return self._runs


def test_draining_stops_taking_runs_and_waits_for_those_in_flight() -> None:
    workers = [FinishingWorker(3), FinishingWorker(1)]
    said: list[str] = []

    asyncio.run(drain_workers(workers, timeout=30, grace=1, say=said.append))  # type: ignore[arg-type]

    assert [worker.taking_runs for worker in workers] == [False, False]
    assert said[0].startswith("stopping: no new runs; waiting up to 30 s for")
    assert not any("drain timeout" in line for line in said), "all ended before the timeout"


class PollingWorker:
    """Stands in for a DrainableWorker: its Prefect worker polled, or stopped polling."""

    def __init__(self, name: str, polling: bool, taking_runs: bool = True) -> None:
        self.worker = SimpleNamespace(name=name, is_worker_still_polling=lambda _: polling)
        self.taking_runs = taking_runs
        self.runs_in_flight = 1


@pytest.mark.parametrize(
    ("workers", "healthy"),
    [
        ([PollingWorker("builds", True), PollingWorker("maintenance", True)], True),
        ([PollingWorker("builds", True), PollingWorker("maintenance", False)], False),
        # A draining host polls no more, and is not to be restarted under its runs.
        ([PollingWorker("builds", False, taking_runs=False)], True),
    ],
)
def test_a_host_is_healthy_while_every_worker_polls_or_drains(
    workers: list[PollingWorker], healthy: bool
) -> None:
    health = host_health(workers, query_seconds=10)  # type: ignore[arg-type]
    assert health.healthy is healthy
    assert set(health.workers) == {worker.worker.name for worker in workers}


def test_the_health_check_answers_200_or_503_with_each_workers_state() -> None:
    states = iter([True, False])
    workers = [PollingWorker("builds", True)]

    def health() -> HostHealth:
        workers[0].worker.is_worker_still_polling = lambda _: next(states)
        return host_health(workers, query_seconds=10)  # type: ignore[arg-type]

    port = free_port()
    with health_server(("127.0.0.1", port), health):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
            assert answer.status == 200
            body = json.loads(answer.read())
        assert body["workers"]["builds"] == {
            "polling": True,
            "taking_runs": True,
            "runs_in_flight": 1,
        }
        with pytest.raises(urllib.error.HTTPError) as unhealthy:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10)
        assert unhealthy.value.code == 503
        with pytest.raises(urllib.error.HTTPError) as elsewhere:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        assert elsewhere.value.code == 404
