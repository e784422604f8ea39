"""How fast the tenant's CLI starts: `afs --help`, `afs pack`, `afs image list` against a running
API, each beside `python -c pass` measured in the same run (the interpreter's own floor).
Targets: under 0.4 s and 50 MB peak RSS each.

    .venv/bin/python -m bench.cli_start [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from afs.catalog import default_catalog
from afs.catalog.credentials import CredentialStore
from afs.devstack.samples import write_sample_dcp
from afs.settings import get_settings
from bench._api import embedded_api

AFS = [sys.executable, "-m", "afs.cli"]


# A small launcher forks the command: a child forked from this (large) process would report this
# process's memory as its own peak.
_LAUNCHER = """
import os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))
"""


def run_once(command: list[str], environment: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one run of `command`."""
    launched = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, *command],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, peak_mb, exit_code = launched.stdout.split()[-3:]
    if exit_code != "0":
        raise SystemExit(f"{' '.join(command)} exited {exit_code}")
    return float(seconds), float(peak_mb)


def measure(
    label: str, command: list[str], environment: dict[str, str], runs: int
) -> tuple[float, float]:
    """Median wall milliseconds and the highest peak RSS (MB) of `runs` runs, printed."""
    samples = [run_once(command, environment) for _ in range(runs)]
    milliseconds = statistics.median(sample[0] for sample in samples) * 1000
    peak = max(sample[1] for sample in samples)
    print(f"{label:<28} median {milliseconds:6.0f} ms   peak RSS {peak:5.1f} MB")
    return milliseconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    with embedded_api() as api_url, tempfile.TemporaryDirectory() as scratch:
        project_id = uuid.uuid4().hex
        key = CredentialStore.from_settings(get_settings(), default_catalog()).create(project_id)
        environment = {
            "PATH": os.environ["PATH"],
            "HOME": scratch,
            "AFS_API_URL": api_url,
            "AFS_ACCESS_KEY": key.access_key,
            "AFS_SECRET_KEY": key.secret_key,
            "AFS_PROJECT_ID": project_id,
        }
        dcp = write_sample_dcp(Path(scratch) / "ul_pr_top_routed.dcp")
        pack = [*AFS, "pack", str(dcp), "--shell-id", "0x01010029", "--tool-version", "2017.2"]
        print(f"{runs} runs each; the baseline is the interpreter alone, in the same run")
        baseline = "python -c pass"
        floor_ms, floor_mb = measure(
            f"{baseline} (baseline)", [sys.executable, "-c", "pass"], environment, runs
        )
        commands = {
            "afs --help": [*AFS, "--help"],
            "afs pack": [*pack, "-o", str(Path(scratch) / "dcp.tar")],
            "afs image list": [*AFS, "image", "list"],
        }
        figures = []
        for label, command in commands.items():
            milliseconds, peak = measure(label, command, environment, runs)
            figures += [
                {"figure": f"{label}, median wall time", "value": milliseconds, "unit": "ms",
                 "baseline": baseline, "baseline_value": floor_ms, "note": "target < 400 ms"},
                {"figure": f"{label}, peak RSS", "value": peak, "unit": "MB",
                 "baseline": baseline, "baseline_value": floor_mb, "note": "target < 50 MB"},
            ]  # fmt: skip
    print(json.dumps({"figures": figures}))


if __name__ == "__main__":
    main()
