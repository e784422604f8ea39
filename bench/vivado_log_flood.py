"""Worker memory while Vivado floods its log: a 500 MB log must cost the worker at most 64 MB.

Each build runs in a fresh process (the worker's role: render, run_vivado, scan the log) so its
peak RSS is its own; the baseline is the same build with a 1 MB log, measured in the same run.

    .venv/bin/python bench/vivado_log_flood.py [--flood-mb 500]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from afs.devstack.samples import EMULATOR_FAULTS_ENV

LIMIT_MB = 64


def one_build(flood_mb: int, work: Path) -> dict[str, float]:
    """Child mode: one emulated build whose Vivado writes `flood_mb` MB of log."""
    from afs.build.tcl import BuildScriptInputs, render_build_script
    from afs.build.vivado.runner import run_vivado
    from afs.devstack.samples import write_sample_dcp, write_sample_shell_dcp
    from afs.settings import emulator_binary

    inputs = BuildScriptInputs(
        image_id="bench",
        user_dcp=write_sample_dcp(work / "user.dcp", emulator_fault=f"log_flood:{flood_mb}"),
        shell_dcp=write_sample_shell_dcp(work / "shell.dcp", "0x01010029"),
        output_dir=work / "output",
        reports_dir=work / "reports",
    )
    script = work / "build.tcl"
    script.write_text(render_build_script(inputs))
    (work / "vivado").mkdir()
    started = time.perf_counter()
    run = run_vivado(emulator_binary(), script, work / "vivado", timeout_seconds=3600)
    return {
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "log_mb": (work / "vivado" / "vivado.stdout").stat().st_size / 2**20,
        "infos": run.summary.infos,
    }


def measure(flood_mb: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="afs-bench-") as work:
        completed = subprocess.run(
            [sys.executable, __file__, "--child", str(flood_mb), "--work", work],
            env={**os.environ, EMULATOR_FAULTS_ENV: "1"},
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flood-mb", type=int, default=500)
    parser.add_argument("--child", type=int)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(one_build(args.child, args.work)))
        return 0

    baseline = measure(1)
    flood = measure(args.flood_mb)
    growth = flood["peak_rss_mb"] - baseline["peak_rss_mb"]
    for label, result in (("baseline", baseline), ("flood", flood)):
        print(
            f"{label:8}: log {result['log_mb']:7.1f} MB in {result['seconds']:6.1f} s, "
            f"worker peak RSS {result['peak_rss_mb']:6.1f} MB"
        )
    print(
        f"peak RSS ratio flood/baseline: {flood['peak_rss_mb'] / baseline['peak_rss_mb']:.3f}; "
        f"growth {growth:+.1f} MB for {flood['log_mb'] - baseline['log_mb']:.0f} MB more log "
        f"(limit {LIMIT_MB} MB): {'PASS' if growth <= LIMIT_MB else 'FAIL'}"
    )
    figure = {
        "figure": f"worker peak RSS, {flood['log_mb']:.0f} MB Vivado log", "unit": "MB",
        "value": flood["peak_rss_mb"], "baseline": f"the same, {baseline['log_mb']:.0f} MB log",
        "baseline_value": baseline["peak_rss_mb"],
        "note": f"growth {growth:+.1f} MB, limit {LIMIT_MB} MB",
    }  # fmt: skip
    print(json.dumps({"figures": [figure]}))
    return 0 if growth <= LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
