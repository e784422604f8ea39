"""Create latency through the API vs Prefect's own create_flow_run_from_deployment, same run.

The API writes a catalog row and answers; the dispatcher beside it makes the flow run. Targets:
p99 < 100 ms at 32 concurrent clients, and at most 1/5 of Prefect's own p99. Each level also
prints the CPU one create costs in every process of the stack (this benchmark's client, the API,
the S3 server, ...) and so how long a burst of that many creates needs on all cores at the least.

    .venv/bin/python -m bench.api_create [--requests-per-client N]
"""

from __future__ import annotations

import argparse
import json
import os
import uuid

from afs import storage
from afs.catalog import default_catalog
from afs.catalog.credentials import CredentialStore
from afs.settings import get_settings
from afs.status import IN_CREATION
from afs.tenants import TenantStorage, save_tenant, tenant_client
from bench._api import (
    Stats,
    Timings,
    cpu_seconds,
    descendant_processes,
    embedded_api,
    measure,
    signed_session,
    time_calls,
)

LEVELS = (1, 8, 32)
# At least this many creates at every level, so that a p99 is not just the slowest of a handful.
MIN_SAMPLES = 96


def rounds_at(level: int, requests_per_client: int) -> int:
    return max(requests_per_client, -(-MIN_SAMPLES // level))


class Client:
    """One project with its own bucket, DCP object and key pair."""

    def __init__(self, api_url: str, credentials: CredentialStore, endpoint: str) -> None:
        self.project_id = uuid.uuid4().hex
        bucket = f"bench-{self.project_id[:16]}"
        tenant = TenantStorage(
            endpoint=endpoint,
            access_key="bench",
            secret_key="bench",  # noqa: S106 - moto's dev store accepts any key
            buckets=[bucket],
        )
        save_tenant(get_settings(), self.project_id, tenant)
        client = tenant_client(get_settings(), tenant)
        storage.ensure_bucket(client, bucket)
        client.put_object(Bucket=bucket, Key="vu9p/dcp.tar", Body=b"dcp")
        key = credentials.create(self.project_id)
        self.session = signed_session(key.access_key, key.secret_key)
        self.url = f"{api_url}/v2/{self.project_id}/cloudservers/fpga_image"
        self.dcp_location = f"{bucket}:vu9p/dcp.tar"
        self.created = 0

    def create(self) -> None:
        # A new name each time: the same signed request again within a second would be a replay.
        self.created += 1
        body = {"fpga_image": {"dcp_location": self.dcp_location, "name": f"b-{self.created}"}}
        response = self.session.post(self.url, json=body, timeout=60)
        assert response.status_code == 200, response.text


def free_quotas() -> None:
    """Between rounds: end every image in creation so each project may create again."""
    catalog = default_catalog()
    for record in catalog.unfinished():
        if record.status in IN_CREATION:
            catalog.mark_error(record.id, "INTERNAL_ERROR: benchmark round over")


def api_round(clients: list[Client], concurrency: int, per_client: int) -> Timings:
    """`per_client` bursts of one create from each of `concurrency` clients at once."""
    timings = Timings()
    for _ in range(per_client):
        # One create per project at a time: each burst uses each project once, then frees it.
        timings += time_calls([client.create for client in clients[:concurrency]], concurrency)
        free_quotas()
    return timings


# Where the CPU of a create goes: the benchmark's own process, and the processes it started.
_PROCESSES = {"afs.api.commands serve": "API (afs serve)", "afs.cli dispatcher": "dispatcher",
              "moto.server": "S3 (moto)", "prefect server": "Prefect server"}  # fmt: skip


def cpu_by_process() -> dict[str, float]:
    seconds = {"benchmark client": cpu_seconds(os.getpid())}
    for pid, command in descendant_processes().items():
        for needle, label in _PROCESSES.items():
            if needle in command:
                seconds[label] = cpu_seconds(pid)
    return seconds


def prefect_round(deployment_id, concurrency: int, count: int) -> Stats:
    import contextvars
    import functools

    from prefect import get_client

    def create() -> None:
        with get_client(sync_client=True) as client:
            client.create_flow_run_from_deployment(deployment_id, parameters={})

    # Each call in its own copy of this context, where Prefect's API URL is set.
    calls = [functools.partial(contextvars.copy_context().run, create) for _ in range(count)]
    return measure(calls, concurrency)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests-per-client", type=int, default=6)
    args = parser.parse_args()
    with embedded_api() as api_url:
        from prefect import flow

        @flow(name="bench-noop")
        def noop() -> None:
            return None

        deployment_id = noop.to_deployment("bench-noop").apply()
        credentials = CredentialStore.from_settings(get_settings(), default_catalog())
        endpoint = get_settings().obs_endpoint
        clients = [Client(api_url, credentials, endpoint) for _ in range(max(LEVELS))]
        clients[0].create()  # warm-up
        free_quotas()
        print(f"create: at least {args.requests_per_client} creates per client and "
              f"{MIN_SAMPLES} per level, distinct projects")  # fmt: skip
        # Every API level before any Prefect one: Prefect's rounds leave its server busy for
        # a while afterwards, which would land on the API rounds that followed them.
        api: dict[int, Stats] = {}
        for level in LEVELS:
            before = cpu_by_process()
            timings = api_round(clients, level, rounds_at(level, args.requests_per_client))
            api[level] = timings.stats
            used = {name: cpu_by_process()[name] - seconds for name, seconds in before.items()}
            creates = len(timings.latencies)
            print(api[level].line(f"API create, {level} clients"))
            print("  CPU per create: " + ", ".join(
                f"{name} {seconds / creates * 1000:.1f} ms" for name, seconds in used.items()
            ))  # fmt: skip
            floor = sum(used.values()) / creates * level / (os.cpu_count() or 1)
            print(f"  a burst of {level} needs {floor * 1000:.0f} ms of all {os.cpu_count()} cores")
        verdict = "met" if api[max(LEVELS)].p99_ms < 100 else "MISSED"
        figures = []
        for level in LEVELS:
            count = level * rounds_at(level, args.requests_per_client)
            prefect = prefect_round(deployment_id, level, count)
            print(prefect.line(f"Prefect create_flow_run_from_deployment, {level}"))
            print(
                f"  ratio API/Prefect: p50 {api[level].p50_ms / prefect.p50_ms:.3f}  "
                f"p99 {api[level].p99_ms / prefect.p99_ms:.3f}  (target p99 <= 0.2)"
            )
            note = f"target ratio <= 0.2 ({prefect.failures} Prefect creates failed)"
            if level == max(LEVELS):
                note += f"; p99 < 100 ms: {verdict}"
            for quantile in ("p50", "p99"):
                figures.append({
                    "figure": f"API create {quantile}, {level} clients",
                    "value": getattr(api[level], f"{quantile}_ms"), "unit": "ms",
                    "baseline": f"Prefect create_flow_run_from_deployment {quantile}, {level}",
                    "baseline_value": getattr(prefect, f"{quantile}_ms"),
                    "note": note if quantile == "p99" else "",
                })  # fmt: skip
        print(f"p99 < 100 ms at {max(LEVELS)} clients: {verdict}")
        print(json.dumps({"figures": figures}))


if __name__ == "__main__":
    main()
