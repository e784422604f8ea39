"""Vivado's parent process: when a build ends, however it ends, so do Vivado and all it started.

`Supervised` (the caller's side, afs/build/vivado/supervised.py) starts this file as a script in a
session of its own, so that a kill of the caller's process group spares it, and keeps the write end
of its stdin: that pipe is the lifeline. The supervisor starts the command in a new session with
exactly the environment the caller sent, then waits. When the command's leader exits, the lifeline
reaches end-of-file (the caller stopped the build, or died, SIGKILL included) or the supervisor
gets SIGTERM, it sends SIGTERM to every process below it, SIGKILL to those left after the grace
period, reaps them all and exits, reporting the leader's exit code (-N when signal N killed it). As
a child subreaper it inherits the helpers that daemonised themselves out of the command's process
group, so those end too; should the supervisor itself be killed, the kernel kills the leader
(parent-death signal).

Protocol: argv is the grace period in seconds, then the command. stdin is one line of JSON, the
command's environment, then nothing until end-of-file. stdout becomes the command's stdout and
stderr. stderr carries `exit <code>`; anything else there is the supervisor's own failure.

Linux only (prctl, /proc). The script imports the standard library only and runs under
`python -I -S`: it starts fast, and neither the environment nor the work directory can change
what it imports.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import select
import signal
import sys
import time
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_POLL_SECONDS = 0.1
_EXEC_FAILED = 127  # what a shell answers for a command it cannot run
EXIT_REPORT = "exit "  # the protocol's last line on stderr


# -- the supervisor process -------------------------------------------------------------------


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl({option}, {value}): {os.strerror(errno)}")


def _start(command: list[str], env: dict[str, str]) -> int:
    """Fork and exec `command` in a session of its own, its stdout and stderr our stdout."""
    supervisor = os.getpid()
    pid = os.fork()
    if pid:
        # Only the command and its helpers may hold the output pipe: its end is their end.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
        return pid
    try:
        os.setsid()
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(1, 2)
        # Python ignores these two; a command must start with the defaults, as subprocess does.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        if os.getppid() == supervisor:  # else the supervisor died before the line above
            os.execvpe(command[0], command, env)  # noqa: S606 - no shell, on purpose
    except BaseException as exc:
        os.write(2, f"afs-vivado-supervisor: cannot run {command[0]}: {exc}\n".encode())
    os._exit(_EXEC_FAILED)


class _Children:
    """The leader and the orphans reparented to us; reaped as they exit."""

    def __init__(self, leader: int) -> None:
        self.leader = leader
        self.leader_exit: int | None = None

    def reap(self) -> bool:
        """Collect the children that exited; False once none is left."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.leader:
                self.leader_exit = os.waitstatus_to_exitcode(status)


def _descendants() -> list[int]:
    """Every process below this one."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rpartition(")")[2].split()[1])
        except OSError:
            continue  # it ended while we looked
        children.setdefault(parent, []).append(int(stat.parent.name))
    found: list[int] = []
    below = [os.getpid()]
    while below:
        found_now = children.get(below.pop(), [])
        found += found_now
        below += found_now
    return found


def _signal_descendants(sig: signal.Signals) -> None:
    for pid in _descendants():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _end_all(children: _Children, grace_seconds: float) -> None:
    """SIGTERM every descendant, SIGKILL those left after the grace period, reap them all."""
    _signal_descendants(signal.SIGTERM)
    give_up = time.monotonic() + grace_seconds
    while children.reap() and time.monotonic() < give_up:
        time.sleep(_POLL_SECONDS / 2)
    while children.reap():
        _signal_descendants(signal.SIGKILL)
        time.sleep(_POLL_SECONDS / 2)


def _lifeline_ended(timeout: float) -> bool:
    readable, _, _ = select.select([0], [], [], timeout)
    return bool(readable) and not os.read(0, 4096)


def main(argv: list[str]) -> int:
    grace_seconds, command = float(argv[0]), argv[1:]
    # Read unbuffered: no byte past the line may sit in a buffer that select() below cannot see.
    env = json.loads(io.FileIO(0, closefd=False).readline())
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    terminated: list[int] = []  # a process-tree kill that reaches us ends the build, not just us
    signal.signal(signal.SIGTERM, lambda signum, _: terminated.append(signum))
    children = _Children(_start(command, env))
    while not terminated and not _lifeline_ended(_POLL_SECONDS):
        children.reap()
        if children.leader_exit is not None:
            break
    _end_all(children, grace_seconds)
    with contextlib.suppress(OSError):  # the caller may be gone
        print(f"{EXIT_REPORT}{children.leader_exit}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
