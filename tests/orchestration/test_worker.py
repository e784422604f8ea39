"""`afs worker`'s plan: which pools and queues a build host serves, and how many runs at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from afs.orchestration.farm import PACKAGING_LIMIT
from afs.orchestration.worker import MAINTENANCE_LIMIT, drain_workers, host_plans
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
