"""Local servers of the embedded default and the tests: moto's S3 server, a Prefect server.

Each is a real server in its own process, reached over HTTP on 127.0.0.1, and stopped by its owner.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_healthy(url: str, process: subprocess.Popen[Any], timeout: float, log: Path) -> None:
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


def stop(process: subprocess.Popen[Any], grace: float = 10, group: bool = True) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds: to the process group `start` made, or to
    the process alone when it shares its parent's group (`group=False`)."""
    if process.poll() is not None:
        return
    kill = os.killpg if group else os.kill
    with contextlib.suppress(ProcessLookupError):
        kill(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            kill(process.pid, signal.SIGKILL)
        process.wait()


def start(
    command: list[str], health_url: str | None, log: Path, env: dict[str, str], timeout: float
) -> subprocess.Popen[bytes]:
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
def s3_server(
    log_dir: Path, port: int | None = None, recording: Path | None = None
) -> Iterator[str]:
    """moto's S3-compatible server; yields its endpoint URL.

    Its state lives only in its process, unless `recording` is given: then every request is
    appended to that file, and a server started on an existing recording first replays it, so
    buckets and objects outlive a restart (moto's recorder; a development store, not a
    database).
    """
    port = port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    env = dict(os.environ)
    if recording is not None:
        env.update(MOTO_ENABLE_RECORDING="true", MOTO_RECORDER_FILEPATH=str(recording))
    process = start(command, f"{endpoint}/moto-api/", log_dir / "s3.log", env, timeout=60)
    try:
        if recording is not None and recording.exists():
            replay = urllib.request.Request(  # noqa: S310 - our own loopback server
                f"{endpoint}/moto-api/recorder/replay-recording", method="POST"
            )
            with urllib.request.urlopen(replay, timeout=600):  # noqa: S310
                pass
        yield endpoint
    finally:
        stop(process)


def local_store_keys() -> dict[str, str]:
    """Image store keys of its own for a stack on the local S3 store (moto's takes any key; the
    servers refuse the built-in ones)."""
    return {
        "AFS_IMAGE_STORE_ACCESS_KEY": f"embedded-{secrets.token_hex(8)}",
        "AFS_IMAGE_STORE_SECRET_KEY": secrets.token_urlsafe(30),
    }


def prefect_environment(prefect_home: Path, api_url: str) -> dict[str, str]:
    return {
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "true",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }


@contextlib.contextmanager
def prefect_server(
    prefect_home: Path, port: int | None = None, database_url: str | None = None
) -> Iterator[str]:
    """A Prefect server, on SQLite under `prefect_home` or on the database at `database_url`
    (`postgresql+asyncpg://...`, the build farm's); yields its API URL."""
    port = port or free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, **prefect_environment(prefect_home, api_url)}
    if database_url is not None:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    command = [
        sys.executable, "-m", "prefect", "server", "start",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    process = start(command, f"{api_url}/health", prefect_home / "server.log", env, timeout=120)
    try:
        yield api_url
    finally:
        stop(process)


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    return found[-1].parent


def _as_postgres_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the `postgres` system user instead."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def postgres_server(log_dir: Path, port: int | None = None) -> Iterator[str]:
    """A throwaway PostgreSQL cluster; yields a SQLAlchemy URL of its database `afs`.

    The cluster lives in its own temporary directory (the server's user must own it and reach it),
    removed when the server stops.
    """
    import shutil
    import tempfile

    port = port or free_port()
    bin_dir = _postgres_bin()
    cluster = Path(tempfile.mkdtemp(prefix="afs-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(cluster, "postgres", "postgres")
    try:
        subprocess.run(
            _as_postgres_user(
                [str(bin_dir / "initdb"), "-D", str(cluster / "db"), "-U", "afs", "-A", "trust"]
            ),
            check=True,
            capture_output=True,
        )
        command = _as_postgres_user([
            str(bin_dir / "postgres"), "-D", str(cluster / "db"), "-p", str(port),
            "-h", "127.0.0.1", "-k", str(cluster), "-c", "fsync=off",
        ])  # fmt: skip
        log = log_dir / "postgres.log"
        process = start(command, None, log, dict(os.environ), timeout=60)
        try:
            _wait_for_postgres(bin_dir, port, process, log)
            subprocess.run(
                [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "afs", "afs"],
                check=True,
                capture_output=True,
            )
            yield f"postgresql+psycopg://afs@127.0.0.1:{port}/afs"
        finally:
            stop(process)
    finally:
        shutil.rmtree(cluster, ignore_errors=True)


def _wait_for_postgres(bin_dir: Path, port: int, process: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + 60
    ready = [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)]
    while subprocess.run(ready, capture_output=True, check=False).returncode:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL did not start; see {log}")
        time.sleep(0.2)
