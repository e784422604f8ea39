"""The supervisor on its own: the environment it hands on, exit codes, and its own death."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from afs.build.vivado.supervised import Supervised

_SLEEPER = "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)"


def _run_to_end(supervised: Supervised) -> tuple[bytes, int]:
    with supervised.output as output:
        text = output.read()
    while not supervised.ended():
        time.sleep(0.05)
    return text, supervised.exit_code()


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def test_the_command_gets_exactly_the_environment_it_was_given(tmp_path: Path) -> None:
    env_binary = shutil.which("env")
    assert env_binary is not None
    supervised = Supervised([env_binary], cwd=tmp_path, env={"ONLY": "this"}, grace_seconds=1)
    assert _run_to_end(supervised) == (b"ONLY=this\n", 0)


def test_exit_codes_and_signals_are_reported(tmp_path: Path) -> None:
    exits = Supervised(["/bin/sh", "-c", "exit 3"], cwd=tmp_path, env={}, grace_seconds=1)
    assert _run_to_end(exits) == (b"", 3)
    killed = Supervised(["/bin/sh", "-c", "kill -SEGV $$"], cwd=tmp_path, env={}, grace_seconds=1)
    assert _run_to_end(killed) == (b"", -signal.SIGSEGV)


def test_a_command_that_cannot_run_exits_127(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-vivado")
    output, code = _run_to_end(Supervised([missing], cwd=tmp_path, env={}, grace_seconds=1))
    assert code == 127
    assert f"cannot run {missing}" in output.decode()


def test_sigterm_to_the_supervisor_ends_the_command(tmp_path: Path) -> None:
    supervised = Supervised([sys.executable, "-c", _SLEEPER], cwd=tmp_path, env={}, grace_seconds=1)
    leader = int(supervised.output.readline())
    try:
        os.kill(_parent_of(leader), signal.SIGTERM)
        assert _gone_within(leader, 5)
        _, code = _run_to_end(supervised)
        assert code == -signal.SIGTERM
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(leader, signal.SIGKILL)


def test_a_killed_supervisor_takes_the_command_with_it(tmp_path: Path) -> None:
    supervised = Supervised([sys.executable, "-c", _SLEEPER], cwd=tmp_path, env={}, grace_seconds=1)
    leader = int(supervised.output.readline())
    try:
        os.kill(_parent_of(leader), signal.SIGKILL)
        assert _gone_within(leader, 5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(leader, signal.SIGKILL)
        supervised.output.close()
        supervised.close(timeout=5)
