"""Faults a test can inject through a DCP member (afs.devstack.samples.EMULATOR_FAULT_MEMBER).

Behaviour faults (crash, hang, slow, log_flood) happen when the checkpoint is loaded; result
faults (timing_violation, drc_error, pr_verify_incompatible, tcl_error) change what a later
command finds. No checkpoint Vivado writes has the member, so a real design never triggers one.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from afs.build.vivado.emulator.console import Console

# The emulator acts out a fault only where this is "1" (the test suite, benchmarks), so a tenant
# cannot make even an emulated build host hang or fill its disk.
EMULATOR_FAULTS_ENV = "AFS_EMULATOR_FAULTS"
RESULT_FAULTS = frozenset({"timing_violation", "drc_error", "pr_verify_incompatible", "tcl_error"})
FAULT_ID = "Emulator 99-2"
_LIMITS = {"slow": 3600.0, "log_flood": 2048.0}  # seconds, megabytes
_FLOOD_LINE = (
    "INFO: [Physopt 32-619] Estimated Timing Summary | WNS=0.087 | TNS=0.000 | "
    "(emulated log flood)\n"
)


class FaultError(Exception):
    """The fault member names no known fault."""


@dataclass(frozen=True)
class Fault:
    kind: str
    amount: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Fault:
        kind, _, value = text.strip().partition(":")
        if kind in RESULT_FAULTS | {"crash", "hang"} and not value:
            return cls(kind)
        if kind in _LIMITS:
            try:
                amount = float(value)
            except ValueError:
                amount = -1.0
            if 0 <= amount <= _LIMITS[kind]:
                return cls(kind, amount)
        raise FaultError(f"unknown emulator fault {text.strip()!r}")

    def on_load(self, console: Console) -> None:
        """Act out a behaviour fault at checkpoint load; result faults act later."""
        if self.kind in RESULT_FAULTS:
            return
        console.info(FAULT_ID, f"Injecting emulator fault '{self.kind}'")
        if self.kind == "crash":
            # Like a Vivado segfault, minus the core file.
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            os.kill(os.getpid(), signal.SIGSEGV)
        elif self.kind == "hang":
            _hang(console)
        elif self.kind == "slow":
            time.sleep(self.amount)
        elif self.kind == "log_flood":
            lines = int(self.amount * 1024 * 1024) // len(_FLOOD_LINE) + 1
            for _ in range(lines):
                console.write(_FLOOD_LINE)
            console.counts["INFO"] += lines


def _hang(console: Console) -> None:
    """Start a helper process (as Vivado does), then ignore SIGTERM and sleep forever.

    Only killing the whole process group, with SIGKILL, ends this run and its helper.
    """
    helper = subprocess.Popen(
        [sys.executable, "-c", "import time\nwhile True: time.sleep(60)"],
        stdin=subprocess.DEVNULL,
    )
    console.info(FAULT_ID, f"Started helper process {helper.pid}")
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    console.info(FAULT_ID, f"Process {os.getpid()} ignores SIGTERM and sleeps forever")
    while True:
        time.sleep(60)
