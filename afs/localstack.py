"""Local servers of the embedded default and the tests: moto's S3 server, a Prefect server.

Each is a real server in its own process, reached over HTTP on 127.0.0.1, and stopped by its owner.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback server
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not healthy after {timeout:.0f} s; see {log}")


def stop(process: subprocess.Popen, grace: float = 10) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def start(
    command: list[str], health_url: str | None, log: Path, env: dict[str, str], timeout: float
) -> subprocess.Popen:
    """Start `command` in its own process group; wait for `health_url` to answer, if given."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    if health_url is None:
        return process
    try:
        wait_until_healthy(health_url, process, timeout, log)
    except BaseException:
        stop(process)
        raise
    return process


@contextlib.contextmanager
def s3_server(log_dir: Path, port: int | None = None) -> Iterator[str]:
    """moto's S3-compatible server; yields its endpoint URL. State lives only in that process."""
    port = port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = start(
        command, f"{endpoint}/moto-api/", log_dir / "s3.log", dict(os.environ), timeout=60
    )
    try:
        yield endpoint
    finally:
        stop(process)


def prefect_environment(prefect_home: Path, api_url: str) -> dict[str, str]:
    return {
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "true",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }


@contextlib.contextmanager
def prefect_server(prefect_home: Path, port: int | None = None) -> Iterator[str]:
    """A Prefect server on SQLite under `prefect_home`; yields its API URL."""
    port = port or free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, **prefect_environment(prefect_home, api_url)}
    command = [
        sys.executable, "-m", "prefect", "server", "start",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    process = start(command, f"{api_url}/health", prefect_home / "server.log", env, timeout=120)
    try:
        yield api_url
    finally:
        stop(process)
