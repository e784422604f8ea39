"""`afs up`: the embedded stack kept running for a person until Ctrl-C, and kept across restarts.

Everything lives under one home: Prefect's and the catalog's SQLite databases, the S3 store's
recording (replayed at the next start), the ports (so URLs stay good), and `client.json`, the
client configuration of a demo project with its own bucket.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

from afs import storage
from afs.client.config import ClientConfig, load_client_config, save_client_config
from afs.devstack.demo import create_demo_tenant, write_sample_tarballs
from afs.devstack.embedded import EmbeddedStack, StackPorts, embedded_stack
from afs.settings import get_settings
from afs.tenants import load_tenant, tenant_client

UP_BUCKET = "afs-up-tenant"
CLIENT_CONFIG_NAME = "client.json"


def _demo_project(stack: EmbeddedStack, config_path: Path) -> ClientConfig:
    """The demo project of an earlier start, or a new one, written to `config_path`."""
    if config_path.exists():
        config = load_client_config(environ={}, path=config_path)
        tenant = load_tenant(get_settings(), config.project_id)
        storage.ensure_bucket(tenant_client(get_settings(), tenant), UP_BUCKET)
        return config
    config = create_demo_tenant(stack, UP_BUCKET)
    save_client_config(config, config_path)
    return config


def _say(text: str) -> None:
    print(text, flush=True)  # a person may follow it through a pipe or a log file


def run_up(home: Path, say: Callable[[str], None] = _say) -> None:
    """Start (or restart) the stack under `home` and keep it until SIGINT or SIGTERM."""
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    home.mkdir(parents=True, exist_ok=True)
    say(f"starting the embedded stack under {home} ...")
    with embedded_stack(home, StackPorts.kept_in(home / "ports.json")) as stack:
        config_path = home / CLIENT_CONFIG_NAME
        _demo_project(stack, config_path)
        say(f"Prefect UI: {stack.prefect_ui_url}")
        say(f"API: {stack.api_url}")
        say(f"S3 endpoint: {stack.obs_endpoint}")
        say(f"Bucket: {UP_BUCKET}")
        say(f"Client configuration: {config_path}")
        samples = write_sample_tarballs(home)
        say(
            f"  try: AFS_CLIENT_CONFIG={config_path} afs image create --name first "
            f"--dcp-file {samples['vivado']} --dcp-location {UP_BUCKET}:dcp/sample.tar --wait"
        )
        say(f"  (the SDAccel flow's sample: {samples['sdaccel']})")
        say(f"Vivado: the AFS emulator. Ctrl-C stops; images, runs and schedules stay in {home}")
        stop.wait()
        say("stopping (builds in flight get 10 s to finish) ...")
