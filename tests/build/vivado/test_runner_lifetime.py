"""No process of a build outlives it: not after a normal exit, not when the caller is SIGKILLed.

The fake vivado starts a helper, written in Python so that its command line carries the test's
directory: every process of a build can be found in /proc by that marker. A `child` helper stays
in Vivado's process group; a `daemon` helper forks, leaves the group with setsid and is orphaned,
as daemonised helpers are; a `stubborn` helper ignores SIGTERM.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from afs.build.vivado.runner import run_vivado
from afs.errors import ImageBuildError
from tests.factory import processes_mentioning

GRACE_SECONDS = 1.0
GONE_WITHIN_SECONDS = 10.0

# argv: marker directory, role (leader, child, daemon, stubborn). It says it is ready, then sleeps.
_HELPER = """\
import os, signal, sys, time
marker, role = sys.argv[1], sys.argv[2]
if role == "daemon":
    if os.fork():
        os._exit(0)
    os.setsid()
if role == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(os.path.join(marker, role + ".ready"), "w").close()
time.sleep(120)
"""

# A caller of run_vivado in a process of its own, to be killed.
_CALLER = """\
import sys
from pathlib import Path
from afs.build.vivado.runner import run_vivado
work = Path(sys.argv[2])
run_vivado(sys.argv[1], work / "x.tcl", work, timeout_seconds=600, term_grace_seconds=1)
"""


def _wait_until(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def marker(tmp_path: Path) -> Iterator[Path]:
    """The build's directory; whatever process still mentions it after the test is killed."""
    (tmp_path / "helper.py").write_text(_HELPER)
    yield tmp_path
    for pid in processes_mentioning(str(tmp_path)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def _fake_vivado(marker: Path, body: str) -> str:
    """A shell script that answers -version and otherwise runs `body` with $HELPER defined."""
    path = marker / "fake-vivado"
    path.write_text(
        '#!/bin/sh\nif [ "$1" = -version ]; then echo "Fake Vivado v0.0"; exit 0; fi\n'
        f'HELPER="{sys.executable} {marker / "helper.py"} {marker}"\n' + body
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _wait_ready(marker: Path, role: str) -> str:
    """Shell lines that wait until helper `role` has started."""
    return f'while [ ! -e "{marker}/{role}.ready" ]; do sleep 0.05; done\n'


@pytest.mark.parametrize("role", ["child", "daemon"])
@pytest.mark.parametrize("kill_group", [False, True], ids=["caller", "caller-group"])
def test_killing_the_caller_ends_every_process_of_the_build(
    marker: Path, role: str, kill_group: bool
) -> None:
    binary = _fake_vivado(marker, f"$HELPER {role} &\nexec $HELPER leader\n")
    caller = subprocess.Popen(
        [sys.executable, "-c", _CALLER, binary, str(marker)], start_new_session=True
    )
    _wait_until(lambda: all((marker / f"{r}.ready").exists() for r in (role, "leader")), 30)
    assert (marker / "leader.ready").exists()
    assert (marker / f"{role}.ready").exists()
    if kill_group:
        os.killpg(caller.pid, signal.SIGKILL)
    else:
        os.kill(caller.pid, signal.SIGKILL)
    caller.wait()
    _wait_until(lambda: not processes_mentioning(str(marker)), GONE_WITHIN_SECONDS)
    assert processes_mentioning(str(marker)) == []


@pytest.mark.parametrize("role", ["child", "stubborn"])
def test_a_helper_holding_the_output_does_not_hold_the_build(marker: Path, role: str) -> None:
    binary = _fake_vivado(
        marker,
        f"$HELPER {role} &\n"
        + _wait_ready(marker, role)
        + 'echo "INFO: [Common 17-206] Exiting Vivado at now"\n',
    )
    started = time.monotonic()
    run = run_vivado(
        binary, marker / "x.tcl", marker, timeout_seconds=20, term_grace_seconds=GRACE_SECONDS
    )
    assert time.monotonic() - started < GRACE_SECONDS + 5
    assert run.exit_code == 0
    assert run.summary.exited_normally
    assert processes_mentioning(str(marker)) == []


@pytest.mark.parametrize("role", ["child", "daemon"])
def test_a_normal_exit_leaves_no_helper_behind(marker: Path, role: str) -> None:
    binary = _fake_vivado(
        marker, f"$HELPER {role} >/dev/null 2>&1 &\n" + _wait_ready(marker, role) + "exit 0\n"
    )
    run_vivado(
        binary, marker / "x.tcl", marker, timeout_seconds=20, term_grace_seconds=GRACE_SECONDS
    )
    assert (marker / f"{role}.ready").exists()
    assert processes_mentioning(str(marker)) == []


def test_a_signal_that_killed_vivado_is_reported_despite_a_helper(marker: Path) -> None:
    binary = _fake_vivado(
        marker, "$HELPER child &\n" + _wait_ready(marker, "child") + "kill -9 $$\n"
    )
    with pytest.raises(ImageBuildError, match="vivado was killed by signal SIGKILL"):
        run_vivado(
            binary, marker / "x.tcl", marker, timeout_seconds=20, term_grace_seconds=GRACE_SECONDS
        )
    assert processes_mentioning(str(marker)) == []
