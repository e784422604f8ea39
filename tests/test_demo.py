"""`afs demo`, the main job, as a user runs it: its own stack, one image, statuses to active."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_demo(home: Path) -> subprocess.CompletedProcess:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("AFS_", "PREFECT_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "afs.cli", "demo", "--home", str(home)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )


def test_the_demo_prints_each_status_and_ends_active_every_time_it_runs(tmp_path: Path) -> None:
    for attempt in ("first", "second"):
        completed = run_demo(tmp_path / "demo")
        output = completed.stdout
        assert completed.returncode == 0, f"{attempt} run:\n{output}{completed.stderr}"
        statuses = [line.split(": ", 1)[1] for line in output.splitlines() if "status: " in line]
        assert statuses == ["initialing", "scheduling", "creating", "active"], attempt
        assert "_log.tar" in output
        assert ".aei" in output
        assert "not Vivado" in output
        assert "temporary server" not in output + completed.stderr, "every client used the stack"
