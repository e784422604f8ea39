"""`afs serve`: the API in one or more serving processes, its dispatcher in a child process."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from afs.catalog import default_catalog
from afs.catalog.credentials import CredentialStore
from afs.devstack.localstack import free_port, start, stop
from afs.settings import get_settings
from tests.api.sdk import SdkClient


def children_of(pid: int) -> dict[int, str]:
    """Live child processes of `pid`: pid -> command line."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(parent) == pid and state != "Z":
            found[int(stat.parent.name)] = command
    return found


def dispatcher_of(pid: int) -> int | None:
    commands = children_of(pid).items()
    return next((child for child, command in commands if " dispatcher " in command), None)


def is_running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def serve(session_dir: Path, *options: str):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "afs.cli", "serve", "--port", str(port), *options]
    log = session_dir / "logs" / f"serve-{port}.log"
    return url, start(command, f"{url}/health", log, dict(os.environ), timeout=90)


def test_the_dispatcher_runs_beside_the_api_and_ends_when_it_is_killed(
    factory: None, session_dir: Path
) -> None:
    _, process = serve(session_dir)
    try:
        deadline = time.monotonic() + 30
        while (dispatcher := dispatcher_of(process.pid)) is None:
            assert time.monotonic() < deadline, "no dispatcher process was started"
            time.sleep(0.2)
        os.kill(process.pid, signal.SIGKILL)  # the API alone, with no chance to stop its child
        process.wait()
        deadline = time.monotonic() + 15
        while is_running(dispatcher):
            assert time.monotonic() < deadline, "the dispatcher outlived the API"
            time.sleep(0.2)
    finally:
        stop(process)


def test_several_serving_processes_answer_signed_requests(factory: None, session_dir: Path) -> None:
    project_id = "5e" * 16
    key = CredentialStore.from_settings(get_settings(), default_catalog()).create(project_id)
    url, process = serve(session_dir, "--workers", "2")
    try:
        client = SdkClient(url, key.access_key, key.secret_key, project_id)
        for _ in range(10):
            response = client.list()
            assert response.json() == {"count": 0, "fpgaimages": []}, response.text
    finally:
        stop(process)


def test_without_a_dispatcher_the_api_serves_alone(api_url: str) -> None:
    """The session's API (tests/conftest.py) runs with --no-dispatcher: no child dispatches."""
    from urllib.parse import urlsplit

    port = urlsplit(api_url).port
    servers = [
        int(stat.parent.name)
        for stat in Path("/proc").glob("[0-9]*/stat")
        if f"--port {port} --no-dispatcher" in _command_line(stat.parent)
    ]
    assert len(servers) == 1
    assert dispatcher_of(servers[0]) is None


def _command_line(process_dir: Path) -> str:
    try:
        return (process_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
