"""The farm's size: N simulated build hosts polling one Prefect server on PostgreSQL, as Prefect's
process worker polls, for N = 1, 10, 50, 200.

Each host, as `afs worker`'s build worker does with Prefect's defaults: a worker heartbeat every
30 s, and every 10 s (jitter +-30 %) one `get_scheduled_flow_runs` for its pool; a run it is
offered it proposes Pending (one host wins it), then Running and Completed: a no-op build. Runs
arrive at a steady rate while the hosts poll. For each N:
  - poll latency p50/p99 (the request a worker makes every 10 s);
  - pick-up latency p50/p99: from a run's scheduled time to its Pending, accepted;
  - the Prefect server's and PostgreSQL's CPU: their processes' share of a core over the phase,
    and per poll the marginal cost, the slope between the smallest and the largest level (the
    server's own services and the steady run arrivals cost the same at every level; a poll's
    share of the heartbeats is in it);
  - the hosts' own event-loop lag p99, to show the load generator was not the bottleneck.
The baseline is the poll p50 with one host, measured in the same run.

    .venv/bin/python -m bench.farm_scale [--hosts 1,10,50,200] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import BaseModel

POOL = "bench-farm"
QUERY_SECONDS = 10.0  # PREFECT_WORKER_QUERY_SECONDS's default
HEARTBEAT_SECONDS = 30.0  # a worker's heartbeat to its pool (Prefect's default)
JITTER = 0.3  # Prefect's polling loop: each interval is 10 s +- 30 %
RUNS_PER_SECOND = 1.0
POLL_P99_TARGET_SECONDS = 1.0
PRODUCTION_HOSTS = 300


class Level(BaseModel):
    hosts: int
    polls: int
    poll_p50_ms: float
    poll_p99_ms: float
    runs_taken: int
    pickup_p50_s: float
    pickup_p99_s: float
    polls_per_second: float
    prefect_cores: float  # CPU seconds per second over the phase
    postgres_cores: float
    loop_lag_p99_ms: float
    failed_requests: int


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of `pids` so far, with their children's that ended and were
    reaped (a PostgreSQL backend's, once it exits, moves to the postmaster's)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / ticks


def _pids_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                    pids.append(int(entry.name))
    return pids


def _children(parent: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                    children.append(int(entry.name))
    return children


class Servers(BaseModel):
    """Each server's processes, looked up at each reading: PostgreSQL's backends come and go."""

    prefect_mark: str  # in the Prefect server's command line
    postmaster_mark: str  # in the postmaster's; its backends are its children

    def cpu_seconds(self) -> dict[str, float]:
        # The postmaster (and `runuser`, which started it as the postgres user) and every child.
        started = _pids_mentioning(self.postmaster_mark)
        processes = {*started, *(child for pid in started for child in _children(pid))}
        return {
            "prefect": _cpu_seconds(_pids_mentioning(self.prefect_mark)),
            "postgres": _cpu_seconds(sorted(processes)),
        }


class Farm:
    """What the hosts of one level measured."""

    def __init__(self) -> None:
        self.poll_seconds: list[float] = []
        self.pickup_seconds: list[float] = []
        self.lag_seconds: list[float] = []
        self.failures = 0


async def _host(index: int, farm: Farm, stop: asyncio.Event) -> None:
    from prefect import get_client
    from prefect.client.schemas.responses import SetStateStatus
    from prefect.states import Completed, Pending, Running

    name = f"bench-host-{index}"
    async with get_client() as client:
        await asyncio.sleep(random.uniform(0, QUERY_SECONDS))  # hosts start at different times
        next_heartbeat = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_heartbeat:
                    await client.send_worker_heartbeat(POOL, name, HEARTBEAT_SECONDS)
                    next_heartbeat = time.monotonic() + HEARTBEAT_SECONDS
                begun = time.perf_counter()
                offered = await client.get_scheduled_flow_runs_for_work_pool(
                    POOL, scheduled_before=datetime.now(UTC) + timedelta(seconds=QUERY_SECONDS)
                )
                farm.poll_seconds.append(time.perf_counter() - begun)
                for each in offered:
                    run = each.flow_run
                    taken = await client.set_flow_run_state(run.id, Pending())
                    if taken.status is not SetStateStatus.ACCEPT:
                        continue  # another host won it
                    scheduled = run.next_scheduled_start_time or run.expected_start_time
                    if scheduled is not None:
                        farm.pickup_seconds.append((datetime.now(UTC) - scheduled).total_seconds())
                    await client.set_flow_run_state(run.id, Running())
                    await client.set_flow_run_state(run.id, Completed())
            except Exception:
                farm.failures += 1
            interval = QUERY_SECONDS * random.uniform(1 - JITTER, 1 + JITTER)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


async def _produce_runs(deployment_id: UUID, stop: asyncio.Event, farm: Farm) -> None:
    from prefect import get_client

    async with get_client() as client:
        while not stop.is_set():
            try:
                await client.create_flow_run_from_deployment(deployment_id)
            except Exception:
                farm.failures += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1 / RUNS_PER_SECOND)


async def _watch_loop_lag(stop: asyncio.Event, farm: Farm) -> None:
    while not stop.is_set():
        begun = time.perf_counter()
        await asyncio.sleep(0.1)
        farm.lag_seconds.append(time.perf_counter() - begun - 0.1)


async def _level(hosts: int, seconds: float, deployment_id: UUID, servers: Servers) -> Level:
    farm, stop = Farm(), asyncio.Event()
    cpu_before = servers.cpu_seconds()
    tasks = [asyncio.create_task(_host(index, farm, stop)) for index in range(hosts)]
    tasks.append(asyncio.create_task(_produce_runs(deployment_id, stop, farm)))
    tasks.append(asyncio.create_task(_watch_loop_lag(stop, farm)))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)
    cpu = {name: used - cpu_before[name] for name, used in servers.cpu_seconds().items()}
    return Level(
        hosts=hosts,
        polls=len(farm.poll_seconds),
        poll_p50_ms=statistics.median(farm.poll_seconds) * 1000,
        poll_p99_ms=_percentile(farm.poll_seconds, 0.99) * 1000,
        runs_taken=len(farm.pickup_seconds),
        pickup_p50_s=_percentile(farm.pickup_seconds, 0.5),
        pickup_p99_s=_percentile(farm.pickup_seconds, 0.99),
        polls_per_second=len(farm.poll_seconds) / seconds,
        prefect_cores=cpu["prefect"] / seconds,
        postgres_cores=cpu["postgres"] / seconds,
        loop_lag_p99_ms=_percentile(farm.lag_seconds, 0.99) * 1000,
        failed_requests=farm.failures,
    )


def _discard_waiting_runs() -> None:
    """Runs the last level left unclaimed would be a backlog for the next one."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled

    waiting = FlowRunFilter(
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
    )
    with get_client(sync_client=True) as client:
        while runs := client.read_flow_runs(flow_run_filter=waiting, limit=200):
            for run in runs:
                client.set_flow_run_state(run.id, Cancelled(), force=True)


@contextlib.contextmanager
def _prefect_on_postgres(home: Path) -> Iterator[Servers]:
    """A Prefect server on a PostgreSQL of its own; the processes of each, by name."""
    from sqlalchemy import create_engine

    from afs.devstack.localstack import postgres_server, prefect_environment, prefect_server

    with postgres_server(home) as url:
        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as connection:
            connection.exec_driver_sql('CREATE DATABASE "prefect"')
        database = url.replace("+psycopg", "+asyncpg").rsplit("/", 1)[0] + "/prefect"
        with prefect_server(home / "prefect", database_url=database) as api_url:
            os.environ.update(prefect_environment(home / "prefect", api_url))
            port = api_url.rsplit(":", 1)[1].split("/")[0]
            postgres_port = url.rsplit(":", 1)[1].split("/")[0]
            yield Servers(prefect_mark=f"--port {port}", postmaster_mark=f"-p {postgres_port} ")


def _deploy_noop() -> UUID:
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    from bench._noop_flow import noop

    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
    deployment_id: UUID = noop.to_deployment("farm-scale", work_pool_name=POOL).apply()
    return deployment_id


def _marginal_core_seconds_per_poll(levels: list[Level]) -> float:
    """What one more poll a second costs Prefect and PostgreSQL, in CPU seconds: the slope
    between the smallest and the largest level."""
    low, high = levels[0], levels[-1]
    extra_polls = high.polls_per_second - low.polls_per_second
    if extra_polls <= 0:
        return float("nan")

    def cores(level: Level) -> float:
        return level.prefect_cores + level.postgres_cores

    return max(0.0, (cores(high) - cores(low)) / extra_polls)


def _report(levels: list[Level]) -> list[dict[str, Any]]:
    floor = levels[0]
    print(
        f"{'hosts':>6} {'polls/s':>8} {'poll p50':>10} {'poll p99':>10} {'runs':>5} "
        f"{'pick-up p50':>12} {'pick-up p99':>12} {'Prefect CPU':>12} {'PG CPU':>8} "
        f"{'loop lag p99':>13} {'failed':>7}"
    )
    for level in levels:
        print(
            f"{level.hosts:>6} {level.polls_per_second:>8.2f} {level.poll_p50_ms:>8.1f}ms "
            f"{level.poll_p99_ms:>8.1f}ms {level.runs_taken:>5} {level.pickup_p50_s:>11.1f}s "
            f"{level.pickup_p99_s:>11.1f}s {level.prefect_cores:>11.0%} "
            f"{level.postgres_cores:>7.0%} {level.loop_lag_p99_ms:>11.1f}ms "
            f"{level.failed_requests:>7}"
        )
    within = [level.hosts for level in levels if level.poll_p99_ms < POLL_P99_TARGET_SECONDS * 1000]
    largest = max(within, default=0)
    per_poll = _marginal_core_seconds_per_poll(levels)
    production_polls = PRODUCTION_HOSTS / QUERY_SECONDS
    cores = (
        floor.prefect_cores
        + floor.postgres_cores
        + per_poll * (production_polls - floor.polls_per_second)
    )
    meaning = (
        f"largest N with poll p99 < {POLL_P99_TARGET_SECONDS:g} s on this machine: {largest}; "
        f"a poll costs Prefect and PostgreSQL {per_poll * 1000:.1f} ms of CPU (marginal); "
        f"{PRODUCTION_HOSTS} hosts poll {production_polls:g} times a second: about "
        f"{cores:.1f} core(s) for Prefect and PostgreSQL together"
    )
    print(meaning)
    figures = []
    for level in levels:
        figures.append(
            {
                "figure": f"poll p99, {level.hosts} hosts",
                "value": level.poll_p99_ms,
                "unit": "ms",
                "baseline": "poll p50, 1 host",
                "baseline_value": floor.poll_p50_ms,
                "note": f"target p99 < {POLL_P99_TARGET_SECONDS * 1000:g} ms: "
                + ("met" if level.hosts in within else "MISSED")
                + f"; pick-up p50 {level.pickup_p50_s:.1f} s, p99 {level.pickup_p99_s:.1f} s; "
                f"Prefect {level.prefect_cores:.0%} of a core, PostgreSQL "
                f"{level.postgres_cores:.0%}",
            }
        )
    figures[-1]["note"] += f"; {meaning}"
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="1,10,50,200", help="the levels, comma-separated")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long each level polls")
    args = parser.parse_args()
    levels_wanted = [int(text) for text in args.hosts.split(",")]
    levels = []
    with (
        tempfile.TemporaryDirectory(prefix="afs-farm-scale-") as temporary,
        _prefect_on_postgres(Path(temporary)) as servers,
    ):
        deployment_id = _deploy_noop()
        for hosts in levels_wanted:
            levels.append(asyncio.run(_level(hosts, args.seconds, deployment_id, servers)))
            _discard_waiting_runs()
    print(json.dumps({"figures": _report(levels)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
