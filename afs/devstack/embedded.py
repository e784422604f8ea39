"""The embedded default: every server the factory needs, on one machine, started by one command.

A local S3-compatible store (moto's server) when no AFS_OBS_ENDPOINT is set, a Prefect server on
SQLite with the factory deployed on it (work pools, deployments, the licence limit, automations),
one `afs worker` taking builds and maintenance runs, and the HTTP API (`afs serve`, which runs
the dispatcher beside it). The Vivado binaries default to the
emulator, and the shells' static checkpoints to emulator samples: this stack builds no real image.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from afs.catalog import Catalog
from afs.catalog.migrate import upgrade as upgrade_catalog
from afs.devstack.localstack import (
    free_port,
    local_store_keys,
    prefect_environment,
    prefect_server,
    s3_server,
    start,
    stop,
    wait_until_healthy,
)
from afs.devstack.samples import write_sample_shell_dcp
from afs.orchestration.doctor import pin_shell
from afs.settings import Settings, get_settings

# Embedded runs are short: poll for new runs every second instead of Prefect's 10 s default,
# and a stopped stack stops its builds after 10 s rather than waiting hours for them.
_WORKER_ENVIRONMENT = {"PREFECT_WORKER_QUERY_SECONDS": "1", "AFS_DRAIN_TIMEOUT_SECONDS": "10"}
_WORKER_STOP_SECONDS = 60  # the drain timeout, Vivado's SIGTERM grace, the logs' upload
# And the dispatcher beside the API turns new images into runs four times a second.
_DISPATCH_INTERVAL_SECONDS = "0.25"
# Emulated builds are light: four at once on this one host.
_BUILDS_AT_ONCE = "4"


class EmbeddedStack(BaseModel):
    obs_endpoint: str
    prefect_api_url: str
    api_url: str
    logs_dir: Path

    @property
    def prefect_ui_url(self) -> str:
        return self.prefect_api_url.removesuffix("/api")


class StackPorts(BaseModel):
    """The ports a kept stack (`afs up`) listens on, the same after every restart so that the
    URLs people and client configurations hold stay good."""

    s3: int
    prefect: int
    api: int

    @classmethod
    def kept_in(cls, path: Path) -> StackPorts:
        """The ports recorded in `path`, or new free ones, recorded there."""
        if path.exists():
            return cls.model_validate_json(path.read_text())
        ports = cls(s3=free_port(), prefect=free_port(), api=free_port())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(ports.model_dump_json())
        return ports


def install_sample_shells(settings: Settings) -> list[Path]:
    """Emulator sample shell checkpoints for every allowed shell id that has none installed."""
    settings.shells_dir.mkdir(parents=True, exist_ok=True)
    installed = []
    for shell_id in settings.allowed_shell_ids:
        path = settings.shells_dir / f"{shell_id}.dcp"
        if not path.exists():
            write_sample_shell_dcp(path, shell_id)
            pin_shell(path)
            installed.append(path)
    return installed


def worker_environment() -> dict[str, str]:
    return {**os.environ, **_WORKER_ENVIRONMENT}


@contextlib.contextmanager
def worker(logs_dir: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`afs worker [args]` in its own process, polling once it is yielded; drained when
    stopped. Without `args`, it takes four builds at once."""
    log = logs_dir / "worker.log"
    command = [sys.executable, "-m", "afs.cli", "worker", *(args or ("--limit", _BUILDS_AT_ONCE))]
    process = start(command, None, log, worker_environment(), timeout=60)
    try:
        wait_for_worker(process)
        yield process
    finally:
        stop(process, grace=_WORKER_STOP_SECONDS)


def wait_for_worker(process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    """Block until the build worker of the `afs worker` `process` has joined its work pool."""
    from prefect import get_client

    pool = get_settings().build_pool
    suffix = f"-builds-{process.pid}"
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while not any(
            each.name.endswith(suffix) for each in client.read_workers_for_work_pool(pool)
        ):
            if process.poll() is not None:
                raise RuntimeError(f"afs worker {process.pid} exited ({process.returncode})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"afs worker {process.pid} did not join pool {pool} in time")
            time.sleep(0.5)


@contextlib.contextmanager
def api_server(
    logs_dir: Path, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`afs serve` in its own process; yields its URL at once (see wait_until_healthy)."""
    port = port or free_port()
    command = [sys.executable, "-m", "afs.cli", "serve", "--port", str(port),
               "--dispatch-interval", _DISPATCH_INTERVAL_SECONDS]  # fmt: skip
    process = start(command, None, logs_dir / "api.log", dict(os.environ), timeout=90)
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        stop(process, grace=20)


@contextlib.contextmanager
def embedded_stack(home: Path, ports: StackPorts | None = None) -> Iterator[EmbeddedStack]:
    """Start the stack under `home`, point this process's settings at it, stop it on exit.

    With `ports` the stack is a kept one: on those ports, its S3 store recorded under `home`
    and replayed at the next start, as the catalog and Prefect's database are kept there too.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from afs.deployments import deploy_factory

    logs_dir = home / "logs"
    os.environ["AFS_HOME"] = str(home)
    os.environ["AFS_ALLOW_EMULATOR"] = "true"  # this stack exists to run without Vivado
    with contextlib.ExitStack() as stack:
        kept = ports is not None
        endpoint = os.environ.get("AFS_OBS_ENDPOINT")
        if endpoint is None:
            endpoint = stack.enter_context(
                s3_server(
                    logs_dir,
                    ports.s3 if ports else None,
                    home / "s3-recording.jsonl" if kept else None,
                )
            )
            os.environ.update(local_store_keys())
        os.environ["AFS_OBS_ENDPOINT"] = endpoint
        api_url = stack.enter_context(
            prefect_server(home / "prefect", ports.prefect if ports else None)
        )
        os.environ.update(prefect_environment(home / "prefect", api_url))
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: api_url}))
        get_settings.cache_clear()
        # The stack's own catalog is brought up to date, as `afs db upgrade` would (a kept home
        # may come from an older release).
        upgrade_catalog(Catalog.from_settings())
        install_sample_shells(get_settings())
        # The API starts while the factory is deployed and the worker joins: each takes seconds.
        factory_api_url, factory_api = stack.enter_context(
            api_server(logs_dir, ports.api if ports else None)
        )
        deploy_factory(get_settings())
        stack.enter_context(worker(logs_dir))
        wait_until_healthy(
            f"{factory_api_url}/health", factory_api, timeout=90, log=logs_dir / "api.log"
        )
        yield EmbeddedStack(
            obs_endpoint=endpoint,
            prefect_api_url=api_url,
            api_url=factory_api_url,
            logs_dir=logs_dir,
        )
