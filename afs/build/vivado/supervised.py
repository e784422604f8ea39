"""The caller's side of a command run under the supervisor (afs/build/vivado/supervisor.py, a
script of the standard library only): start it, feed it the environment, stop it, read the exit
code it reports."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import IO

from afs.build.vivado import supervisor
from afs.build.vivado.supervisor import EXIT_REPORT
from afs.errors import AfsError

_MAX_ERROR_CHARS = 500


class SupervisorError(AfsError):
    """The supervisor did not report the command's exit code: it failed or was killed."""


class Supervised:
    """The caller's side of a command that runs under a supervisor."""

    def __init__(
        self, command: list[str], *, cwd: Path, env: dict[str, str], grace_seconds: float
    ) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-S", supervisor.__file__, str(grace_seconds), *command],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert self._process.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # it died at once: exit_code() tells why
            self._process.stdin.write(json.dumps(env).encode() + b"\n")
            self._process.stdin.flush()

    @property
    def output(self) -> IO[bytes]:
        """The command's stdout and stderr; the caller reads it to the end and closes it."""
        assert self._process.stdout is not None
        return self._process.stdout

    def ended(self) -> bool:
        """The supervisor has exited: the command and every process it started are gone."""
        return self._process.poll() is not None

    def stop(self) -> None:
        """End the command: SIGTERM to all of it, SIGKILL after the grace period. Does not wait."""
        assert self._process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self._process.stdin.close()

    def close(self, timeout: float) -> None:
        """After stop(): wait at most `timeout` for the supervisor, release its pipes.

        A supervisor still waiting for a process to die carries on alone.
        """
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout)
        assert self._process.stderr is not None
        self._process.stderr.close()

    def exit_code(self) -> int:
        """Once ended(): the leader's exit code, -N if signal N killed it."""
        self.stop()
        assert self._process.stderr is not None
        with self._process.stderr:
            report = self._process.stderr.read().decode(errors="replace")
        last = report.strip().rpartition("\n")[2]
        if last.startswith(EXIT_REPORT):
            return int(last.removeprefix(EXIT_REPORT))
        raise SupervisorError(
            f"the vivado supervisor exited with code {self._process.wait()}: "
            + report[-_MAX_ERROR_CHARS:].strip()
        )
