"""Pick-up latency: what the factory adds to Prefect's own floor, at 1 and 4 concurrent images.

On the embedded stack, for each image:
  - accept -> Vivado: from the API's 200 to the start of the run's `run-vivado` task (Vivado
    starts within milliseconds of it: the licence is free, with 4 licences for 4 images);
  - Vivado -> active: from the end of that task to the image's `active` in the catalog.
The floor, on the same Prefect server in the same run, is a no-op flow's deployment run taken by
a bare Prefect process worker with the same polling (`PREFECT_WORKER_QUERY_SECONDS=1`) and the
same limit (4 runs at once):
  - asked -> running: from calling `run_deployment` to the run's start;
  - running -> completed: from the run's start to its end (the flow body does nothing).
Target: the factory adds no more than 1 s to the floor at p50.

    .venv/bin/python -m bench.accept_to_build [--rounds N]
"""

from __future__ import annotations

import argparse
import contextvars
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from afs.catalog import default_catalog
from afs.client import FactoryClient
from afs.devstack.embedded import embedded_stack
from afs.devstack.localstack import start, stop
from afs.models import FpgaImageRequest
from afs.status import ImageStatus
from tests.client.conftest import client_config
from tests.factory import Tenant, sample_tarball

DCP_KEY = "vu9p/dcp.tar"
FLOOR_POOL = "bench-floor"
TARGET_ADDED_SECONDS = 1.0
REPOSITORY = Path(__file__).resolve().parent.parent


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def _vivado_task(flow_run_id: str) -> Any:
    """The run's `run-vivado` task run, once Prefect has recorded its end (task run states reach
    the server's tables through its event pipeline, a moment after the run's own)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, TaskRunFilter, TaskRunFilterName

    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while True:
            [task] = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id={"any_": [UUID(flow_run_id)]}),
                task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="run-vivado")),
            )
            if task.start_time is not None and task.end_time is not None:
                return task
            if time.monotonic() > deadline:
                raise RuntimeError(f"run-vivado of flow run {flow_run_id} has no end recorded")
            time.sleep(0.2)


def _one_image(api_url: str, tenant: Tenant) -> tuple[float, float]:
    """(accept -> Vivado, Vivado -> active) of one image, in seconds."""
    with FactoryClient(client_config(api_url, tenant)) as client:
        request = FpgaImageRequest(dcp_location=f"{tenant.bucket}:{DCP_KEY}", name="bench")
        created = client.create(request)
        accepted = datetime.now().astimezone()
        item = client.wait(created.id, interval=0.1, timeout=600)
    assert item.status is ImageStatus.ACTIVE, item.message
    record = default_catalog().get(created.id)
    task = _vivado_task(str(record.flow_run_id))
    return _seconds(task.start_time, accepted), _seconds(record.updated_at, task.end_time)


def _one_floor_run(deployment: str) -> tuple[float, float]:
    """(asked -> running, running -> completed) of one no-op deployment run, in seconds."""
    from prefect import get_client
    from prefect.deployments import run_deployment

    # The clock starts before the call, as the factory's starts before the API's answer: both
    # include the server's time to create the run.
    asked = datetime.now().astimezone()
    run = run_deployment(deployment, timeout=0, as_subflow=False)
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(run.id)
            if run.state is not None and run.state.is_final():
                break
            time.sleep(0.1)
    assert run.state.is_completed(), run.state
    return _seconds(run.start_time, asked), _seconds(run.end_time, run.start_time)


def _deploy_floor() -> str:
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.deployments.runner import EntrypointType
    from prefect.workers.process import ProcessWorker

    from bench._noop_flow import noop

    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name=FLOOR_POOL, type=ProcessWorker.type))
    deployment = noop.to_deployment(
        "floor", work_pool_name=FLOOR_POOL, entrypoint_type=EntrypointType.MODULE_PATH
    )
    deployment.apply()
    return deployment.full_name


def _rounds(
    measure: Callable[[int], tuple[float, float]], width: int, rounds: int
) -> list[tuple[float, float]]:
    """`rounds` times, `width` measures at once, each in a copy of this thread's context (where
    Prefect's settings point at the stack's server)."""
    samples: list[tuple[float, float]] = []
    for _ in range(rounds):
        with ThreadPoolExecutor(width) as pool:
            runs = [pool.submit(contextvars.copy_context().run, measure, n) for n in range(width)]
            samples.extend(run.result() for run in runs)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds at each concurrency")
    args = parser.parse_args()
    results: dict[int, dict[str, list[tuple[float, float]]]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="afs-bench-") as home,
        embedded_stack(Path(home)) as stack,
    ):
        floor = _deploy_floor()
        env = {**os.environ, "PREFECT_WORKER_QUERY_SECONDS": "1", "PYTHONPATH": str(REPOSITORY)}
        command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", FLOOR_POOL,
                   "--limit", "4"]  # fmt: skip
        floor_worker = start(command, None, stack.logs_dir / "floor-worker.log", env, timeout=60)
        try:
            tarball = sample_tarball(Path(home))
            tenants = [Tenant(stack.obs_endpoint) for _ in range(4)]
            for tenant in tenants:
                tenant.put(DCP_KEY, tarball)
            _one_floor_run(floor)  # the floor worker's first poll and imports, not measured
            for width in (1, 4):
                results[width] = {
                    "floor": _rounds(lambda _: _one_floor_run(floor), width, args.rounds),
                    "factory": _rounds(
                        lambda n: _one_image(stack.api_url, tenants[n]), width, args.rounds
                    ),
                }
        finally:
            stop(floor_worker, grace=20)
    figures = []
    worst_added = 0.0
    for width, measured in results.items():
        for part, (factory_name, floor_name) in enumerate(
            [("API 200 -> Vivado start", "asked -> running"),
             ("Vivado exit -> active", "running -> completed")]
        ):  # fmt: skip
            factory = statistics.median(sample[part] for sample in measured["factory"])
            floor_p50 = statistics.median(sample[part] for sample in measured["floor"])
            added = factory - floor_p50
            worst_added = max(worst_added, added)
            print(f"{width} at once  {factory_name:24} p50 {factory:6.2f} s   floor "
                  f"({floor_name}) p50 {floor_p50:6.2f} s   added {added:+6.2f} s")  # fmt: skip
            figures.append({
                "figure": f"{factory_name}, {width} concurrent, p50", "value": factory,
                "unit": "s", "baseline": f"bare Prefect no-op deployment, {floor_name}, p50",
                "baseline_value": floor_p50, "note": f"added {added:+.2f} s",
            })  # fmt: skip
    verdict = "within" if worst_added <= TARGET_ADDED_SECONDS else "OVER"
    print(f"largest p50 added to the floor: {worst_added:+.2f} s ({verdict} the 1 s target)")
    print(json.dumps({"figures": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
