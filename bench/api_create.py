"""Create latency through the API vs Prefect's own create_flow_run_from_deployment, same run.

The API writes a catalog row and answers; the dispatcher beside it makes the flow run. Targets:
p99 < 100 ms at 32 concurrent clients, and at most 1/5 of Prefect's own p99.

    .venv/bin/python -m bench.api_create [--requests-per-client N]
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
from pathlib import Path

from afs import storage
from afs.catalog import default_catalog
from afs.credentials import CredentialStore
from afs.settings import get_settings
from afs.status import IN_CREATION
from afs.tenants import TenantStorage, save_tenant, tenant_client
from bench._api import Stats, embedded_api, measure, signed_session

LEVELS = (1, 8, 32)


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
        self.body = {"fpga_image": {"dcp_location": f"{bucket}:vu9p/dcp.tar", "name": "bench"}}

    def create(self) -> None:
        response = self.session.post(self.url, json=self.body, timeout=60)
        assert response.status_code == 200, response.text


def free_quotas() -> None:
    """Between rounds: end every image in creation so each project may create again."""
    catalog = default_catalog()
    for record in catalog.unfinished():
        if record.status in IN_CREATION:
            catalog.mark_error(record.id, "INTERNAL_ERROR: benchmark round over")


def api_round(clients: list[Client], concurrency: int, per_client: int) -> Stats:
    calls = []
    for _ in range(per_client):
        for client in clients[:concurrency]:
            calls.append(client.create)
    # One create per project at a time: each round uses each project once, then frees the quota.
    stats = []
    for start in range(0, len(calls), concurrency):
        stats.append(measure(calls[start : start + concurrency], concurrency))
        free_quotas()
    return _merge(stats)


def _merge(rounds: list[Stats]) -> Stats:
    # The rounds are the same size: median of medians and worst p99 stay honest upper bounds.
    import statistics

    return Stats(
        p50_ms=statistics.median(r.p50_ms for r in rounds),
        p99_ms=max(r.p99_ms for r in rounds),
        per_second=statistics.mean(r.per_second for r in rounds),
        failures=sum(r.failures for r in rounds),
    )


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
    with (
        tempfile.TemporaryDirectory(prefix="afs-bench-") as home,
        embedded_api(Path(home)) as api_url,
    ):
        get_settings.cache_clear()
        default_catalog.cache_clear()
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
        print(f"create: {args.requests_per_client} creates per client, distinct projects")
        for level in LEVELS:
            api = api_round(clients, level, args.requests_per_client)
            prefect = prefect_round(deployment_id, level, level * args.requests_per_client)
            print(api.line(f"API create, {level} clients"))
            print(prefect.line(f"Prefect create_flow_run_from_deployment, {level}"))
            print(
                f"  ratio API/Prefect: p50 {api.p50_ms / prefect.p50_ms:.3f}  "
                f"p99 {api.p99_ms / prefect.p99_ms:.3f}  (target p99 <= 0.2; "
                f"p99 < 100 ms at 32: {'met' if level != 32 or api.p99_ms < 100 else 'MISSED'})"
            )


if __name__ == "__main__":
    main()
