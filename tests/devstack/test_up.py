"""`afs up` as a new user runs it: start it, build the image it suggests, Ctrl-C, start it again.

The stack runs in a process of its own with a clean environment: none of this session's PREFECT_*
or AFS_* variables, so it starts its own servers under its home, on the ports it keeps there.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from afs.build.vivado.emulator.faults import EMULATOR_FAULTS_ENV
from tests.factory import read_log_tarball

pytestmark = pytest.mark.slow

READY_SECONDS = 180  # from `afs up` to its `Vivado:` line, on a busy 2-core machine
STOP_SECONDS = 60  # from SIGINT to its exit
BUILD_SECONDS = 300  # the `try:` command: upload, build through the emulator, active

# The lines `afs up` prints once its stack is ready, by their label.
LABELS = ("Prefect UI", "API", "S3 endpoint", "Bucket", "Client configuration", "try", "Vivado")


def clean_environment(**extra: str) -> dict[str, str]:
    """This environment without the session's Prefect and factory settings."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("AFS_", "PREFECT_"))
    }
    if EMULATOR_FAULTS_ENV in os.environ:
        environment[EMULATOR_FAULTS_ENV] = os.environ[EMULATOR_FAULTS_ENV]
    environment["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    return {**environment, **extra}


class Up:
    """One `afs up --home HOME`, its output (stdout and stderr) in `log`."""

    def __init__(self, home: Path, log: Path) -> None:
        self.home, self.log = home, log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "afs.cli", "up", "--home", str(home)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=clean_environment(),
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_ready(self) -> dict[str, str]:
        """{label: value} of the lines it printed, once it printed its `Vivado:` line."""
        deadline = time.monotonic() + READY_SECONDS
        while not (printed := self.printed()).get("Vivado"):
            if self.process.poll() is not None:
                pytest.fail(f"afs up exited ({self.process.returncode}):\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"afs up not ready after {READY_SECONDS} s:\n{self.output()}")
            time.sleep(0.5)
        return printed

    def printed(self) -> dict[str, str]:
        found = {}
        for line in self.output().splitlines():
            label, colon, value = line.strip().partition(": ")
            if colon and label in LABELS and label not in found:
                found[label] = value
        return found

    def interrupt(self) -> int | None:
        """Ctrl-C: SIGINT, and its exit status if it exits within STOP_SECONDS."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.process.wait(STOP_SECONDS)
        return None

    def kill(self) -> None:
        """SIGKILL its process group, and whatever it started that is still running."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for pid in leftovers(self.home):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def start_up(tmp_path: Path) -> Iterator:
    """Starts `afs up`; every one started is stopped at the end, whatever the test did."""
    started: list[Up] = []

    def start(home: Path) -> Up:
        up = Up(home, tmp_path / f"up-{len(started) + 1}.log")
        started.append(up)
        return up

    try:
        yield start
    finally:
        for up in started:
            up.interrupt()
            up.kill()


def _kept_ports(home: Path) -> dict[str, int]:
    ports: dict[str, int] = json.loads((home / "ports.json").read_text())
    return ports


def leftovers(home: Path) -> dict[int, str]:
    """{pid: command line} of the live processes of the stack under `home`: those whose command
    line names `home` or one of its kept ports, or whose environment has it as AFS_HOME."""
    ports = _kept_ports(home) if (home / "ports.json").exists() else {}
    listening = {("-p", str(ports["s3"]))} if ports else set()
    listening |= {("--port", str(ports[name])) for name in ("prefect", "api") if name in ports}
    home_variable = f"AFS_HOME={home}".encode()
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue  # it ended while we looked, or it is not ours to read
        words = [argument.decode(errors="replace") for argument in arguments]
        if (
            any(str(home) in word for word in words)
            or any(pair in listening for pair in itertools.pairwise(words))
            or home_variable in environment
        ):
            found[pid] = " ".join(words).strip()
    return found


def _answers(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback server
        status: int = response.status
        return status


def _listens(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def afs(*args: str, config: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The tenant's `afs` command, configured by `config` only."""
    return subprocess.run(
        [sys.executable, "-m", "afs.cli", *args],
        env=clean_environment(AFS_CLIENT_CONFIG=str(config)),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def stop_and_check_nothing_is_left(up: Up) -> None:
    ports = _kept_ports(up.home)
    assert up.interrupt() == 0, f"afs up did not exit 0 within {STOP_SECONDS} s:\n{up.output()}"
    assert "stopping" in up.output()
    left = leftovers(up.home)
    assert left == {}, f"still running after afs up exited: {left}\n{up.output()}"
    assert not [name for name, port in ports.items() if _listens(port)], ports


def check_ready(up: Up, printed: dict[str, str]) -> tuple[Path, list[str]]:
    """The printed lines name the kept ports, the bucket, the client configuration and a command
    line to try; the servers answer. Returns the configuration and that command line's words."""
    home, output = up.home, up.output()
    assert set(printed) == set(LABELS), output
    ports = _kept_ports(home)
    assert set(ports) == {"s3", "prefect", "api"}
    assert printed["Prefect UI"] == f"http://127.0.0.1:{ports['prefect']}", output
    assert printed["API"] == f"http://127.0.0.1:{ports['api']}", output
    assert printed["S3 endpoint"] == f"http://127.0.0.1:{ports['s3']}", output
    assert printed["Bucket"] == "afs-up-tenant"
    config = home / "client.json"
    assert printed["Client configuration"] == str(config)
    assert config.stat().st_mode & 0o777 == 0o600
    assert _answers(f"{printed['Prefect UI']}/api/health") == 200
    assert _answers(f"{printed['API']}/health") == 200
    # The command line to try, as a person would paste it into a shell.
    assignment, program, *arguments = shlex.split(printed["try"])
    assert assignment == f"AFS_CLIENT_CONFIG={config}"
    assert program == "afs"
    assert arguments[:2] == ["image", "create"]
    assert "--wait" in arguments
    dcp_file = Path(arguments[arguments.index("--dcp-file") + 1])
    assert dcp_file == home / "sample-dcp.tar"
    assert dcp_file.is_file()
    assert arguments[arguments.index("--dcp-location") + 1].startswith("afs-up-tenant:")
    return config, arguments


@pytest.mark.timeout(1500)
def test_afs_up_builds_the_image_it_suggests_and_keeps_it_across_a_restart(
    tmp_path: Path, start_up
) -> None:
    home = tmp_path / "up-home"

    # 1. Started for the first time: the stack comes up and says how to use it.
    began = time.monotonic()
    first = start_up(home)
    printed = first.wait_until_ready()
    print(f"\nafs up ready after {time.monotonic() - began:.0f} s")
    config, try_arguments = check_ready(first, printed)
    client_json = config.read_bytes()

    # 2. The command it suggests builds the sample to active.
    began = time.monotonic()
    created = afs(*try_arguments, config=config, timeout=BUILD_SECONDS)
    print(f"the try: command took {time.monotonic() - began:.0f} s")
    assert created.returncode == 0, created.stdout + created.stderr
    assert "status: active" in created.stdout.splitlines(), created.stdout
    image_line = next(line for line in created.stdout.splitlines() if line.startswith("image "))
    image_id = image_line.removeprefix("image ").partition(":")[0]
    assert image_id, created.stdout

    # 3. Ctrl-C stops it, and everything it started.
    stop_and_check_nothing_is_left(first)

    # 4. Started again on the same home: the same URLs, the same project, the image still there.
    began = time.monotonic()
    second = start_up(home)
    printed_again = second.wait_until_ready()
    print(f"afs up ready again after {time.monotonic() - began:.0f} s")
    assert printed_again == printed, second.output()
    check_ready(second, printed_again)
    assert config.read_bytes() == client_json

    listed = afs("image", "list", config=config)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert [row[2] for row in rows if row and row[0] == image_id] == ["active"], listed.stdout

    logs_dir = tmp_path / "logs"
    logs_dir.mkdir()
    logs = afs("image", "logs", image_id, "-o", str(logs_dir), config=config)
    assert logs.returncode == 0, logs.stdout + logs.stderr
    assert "vivado/vivado.log" in logs.stdout, logs.stdout
    (tarball,) = logs_dir.iterdir()
    vivado_log = read_log_tarball(tarball.read_bytes())["vivado/vivado.log"]
    assert b"\nwrite_bitstream completed successfully\n" in vivado_log

    stop_and_check_nothing_is_left(second)
