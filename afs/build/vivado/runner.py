"""Running a `vivado` binary in batch mode: own process group, streamed output, bounded memory.

Vivado runs under a supervisor process (supervisor.py) that ends it and every helper it started
when the build ends: on timeout or cancel, when Vivado exits, and when the caller dies. Its output
goes line by line to `vivado.stdout` and a LogScanner, and only notable lines reach the caller's
run log.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel

from afs.build.vivado.emulator.faults import EMULATOR_FAULTS_ENV
from afs.build.vivado.logparse import LogScanner, LogSummary, bounded_lines, failure_cause
from afs.build.vivado.supervised import Supervised, SupervisorError
from afs.errors import ConfigurationError, FailureCause, ImageBuildError
from afs.settings import VIVADO_TERM_GRACE_SECONDS

LOG_NAME = "vivado.log"
JOURNAL_NAME = "vivado.jou"
STDOUT_NAME = "vivado.stdout"
TEMP_DIR_NAME = "tmp"

VERSION_TIMEOUT_SECONDS = 60.0
MAX_ERROR_TEXT = 1500
_POLL_SECONDS = 0.1
_STOP_MARGIN_SECONDS = 5.0  # beyond the grace period, for the supervisor to kill and reap
_QUEUE_LINES = 1000  # back-pressure on the reader: at most this many lines wait in memory
_EOF = None
_PASSED_ENV = ("PATH", "HOME", "LANG", "TMPDIR", EMULATOR_FAULTS_ENV)
_NOTABLE = ("ERROR:", "CRITICAL WARNING:", "INFO: [Common 17-206]")
_NOTABLE_ENDINGS = (" completed successfully", " failed")


class VivadoConfigError(ConfigurationError):
    """The factory is not configured to run this tool version (missing or unusable binary)."""


class VivadoRun(BaseModel):
    exit_code: int
    log_path: Path
    journal_path: Path
    summary: LogSummary
    tool_identity: str


def vivado_binary_for(tool_version: str, binaries: dict[str, str]) -> str:
    """The executable configured for `tool_version`, resolved to a path."""
    configured = binaries.get(tool_version)
    if not configured:
        known = ", ".join(sorted(binaries)) or "none"
        raise VivadoConfigError(f"no vivado configured for tool version {tool_version!r} ({known})")
    resolved = shutil.which(configured)
    if resolved is None:
        raise VivadoConfigError(
            f"vivado for tool version {tool_version!r} is not an executable file: {configured}"
        )
    return resolved


def _minimal_env() -> dict[str, str]:
    """What Vivado needs from our environment, and nothing else: no storage or API secrets."""
    return {
        name: value
        for name, value in os.environ.items()
        if name in _PASSED_ENV or name.startswith("XILINX")
    }


def tool_identity(binary: str) -> str:
    """The first line of `<binary> -version`, e.g. `Vivado v2017.2 (64-bit)`."""
    try:
        result = subprocess.run(
            [binary, "-version"],
            capture_output=True,
            text=True,
            errors="replace",
            env=_minimal_env(),
            timeout=VERSION_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VivadoConfigError(f"{binary} -version did not run: {exc}") from exc
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 or not lines:
        raise VivadoConfigError(f"{binary} -version failed with exit code {result.returncode}")
    return lines[0]


def _is_notable(line: str) -> bool:
    return line.startswith(_NOTABLE) or line.endswith(_NOTABLE_ENDINGS)


def _read_output(stream: BinaryIO, sink_path: Path, lines: queue.Queue[str | None]) -> None:
    try:
        with stream, sink_path.open("wb", buffering=0) as sink:
            for line in bounded_lines(stream, sink):
                lines.put(line.rstrip("\r\n"))
    finally:
        lines.put(_EOF)


def _stop(supervised: Supervised, lines: queue.Queue[str | None], grace_seconds: float) -> None:
    """Have the supervisor end the build (SIGTERM, then SIGKILL); drain the reader meanwhile."""
    supervised.stop()
    give_up = time.monotonic() + grace_seconds + _STOP_MARGIN_SECONDS
    # Unblock the reader (it may wait on a full queue) until the pipe closes.
    while time.monotonic() < give_up:
        try:
            if lines.get(timeout=_POLL_SECONDS) is _EOF:
                break
        except queue.Empty:
            continue
    supervised.close(timeout=max(0.0, give_up - time.monotonic()))


def _follow(
    supervised: Supervised,
    lines: queue.Queue[str | None],
    *,
    deadline: float,
    timeout_seconds: float,
    cancel: threading.Event | None,
    on_line: Callable[[str], None] | None,
) -> tuple[LogSummary, deque[str]]:
    """Consume the output until the supervisor has exited; raise on cancel or timeout."""
    scanner = LogScanner()
    tail: deque[str] = deque(maxlen=5)
    output_open = True
    while output_open or not supervised.ended():
        if cancel is not None and cancel.is_set():
            raise ImageBuildError(FailureCause.CANCELLED, "the build was cancelled")
        if time.monotonic() > deadline:
            raise ImageBuildError(
                FailureCause.BUILD_TIMEOUT, f"vivado ran longer than {timeout_seconds:g} s"
            )
        if not output_open:
            time.sleep(_POLL_SECONDS)  # output closed, supervisor still reaping
            continue
        try:
            line = lines.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            continue
        if line is _EOF:
            output_open = False
            continue
        scanner.feed(line)
        if line.strip():
            tail.append(line[:200])
        if on_line is not None and _is_notable(line):
            on_line(line)
    return scanner.summary(), tail


def _failure_text(summary: LogSummary, exit_code: int, tail: deque[str]) -> str:
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = str(-exit_code)
        text = f"vivado was killed by signal {name}"
    elif summary.first_errors:
        text = " | ".join(summary.first_errors)
    else:
        text = f"vivado exited with code {exit_code}; last output: " + " | ".join(tail)
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 3] + "..."


def run_vivado(
    binary: str,
    script: Path,
    work_dir: Path,
    *,
    timeout_seconds: float,
    on_line: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    term_grace_seconds: float = VIVADO_TERM_GRACE_SECONDS,
) -> VivadoRun:
    """Run `script` in batch mode in `work_dir`; raise ImageBuildError if the build failed."""
    identity = tool_identity(binary)
    log_path = work_dir / LOG_NAME
    journal_path = work_dir / JOURNAL_NAME
    temp_dir = work_dir / TEMP_DIR_NAME
    temp_dir.mkdir(parents=True, exist_ok=True)
    command = [
        binary,
        "-mode", "batch",
        "-source", str(script),
        "-log", str(log_path),
        "-journal", str(journal_path),
        "-notrace",
        "-tempDir", str(temp_dir),
    ]  # fmt: skip
    supervised = Supervised(
        command, cwd=work_dir, env=_minimal_env(), grace_seconds=term_grace_seconds
    )
    lines: queue.Queue[str | None] = queue.Queue(maxsize=_QUEUE_LINES)
    reader = threading.Thread(
        target=_read_output,
        args=(supervised.output, work_dir / STDOUT_NAME, lines),
        name="vivado-output",
        daemon=True,
    )
    reader.start()
    try:
        summary, tail = _follow(
            supervised,
            lines,
            deadline=time.monotonic() + timeout_seconds,
            timeout_seconds=timeout_seconds,
            cancel=cancel,
            on_line=on_line,
        )
    except BaseException:
        _stop(supervised, lines, term_grace_seconds)
        raise
    reader.join()
    try:
        exit_code = supervised.exit_code()
    except SupervisorError as exc:
        raise ImageBuildError(FailureCause.INTERNAL_ERROR, str(exc)) from exc
    if exit_code != 0 or summary.errors:
        raise ImageBuildError(
            failure_cause(summary, exit_code), _failure_text(summary, exit_code, tail)
        )
    return VivadoRun(
        exit_code=exit_code,
        log_path=log_path,
        journal_path=journal_path,
        summary=summary,
        tool_identity=identity,
    )
