"""Run every benchmark in bench/, one after another, and write bench/RESULTS.md: the machine, the
date, and each figure beside the baseline it was compared with in the same run, their ratio, and
the command that produced it.

A benchmark's last line of output is its figures as JSON, `{"figures": [{"figure", "value",
"unit", "baseline", "baseline_value", "note"?}, ...]}`; every other line is kept as it printed it.

    .venv/bin/python -m bench.run_all      (make bench)
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

BENCH_DIR = Path(__file__).parent
RESULTS = BENCH_DIR / "RESULTS.md"
# Each runs with its defaults, sized so that all of them together take under 15 minutes.
TIMEOUT_SECONDS = 900


class Figure(BaseModel):
    figure: str
    value: float
    unit: str
    baseline: str
    baseline_value: float
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline_value


class Run(BaseModel):
    name: str
    command: list[str]
    load_average: float  # of the last minute, as it started: the cores may be shared
    seconds: float
    exit_code: int
    output: str
    figures: list[Figure]


def benchmarks() -> list[str]:
    """Every module of bench/ but the shared ones (underscored) and this runner."""
    return sorted(
        path.stem
        for path in BENCH_DIR.glob("*.py")
        if not path.stem.startswith("_") and path.stem != Path(__file__).stem
    )


def run(name: str) -> Run:
    command = [sys.executable, "-m", f"bench.{name}"]
    print(f"$ {shown(command)}", flush=True)
    load_average, begun = os.getloadavg()[0], time.perf_counter()
    try:
        done = subprocess.run(
            command,
            cwd=BENCH_DIR.parent,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        exit_code, stdout, stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as expired:
        exit_code, stderr = -1, f"timed out after {TIMEOUT_SECONDS} s"
        stdout = expired.stdout.decode() if isinstance(expired.stdout, bytes) else ""
    seconds = time.perf_counter() - begun
    lines = stdout.rstrip().splitlines()
    figures: list[Figure] = []
    if lines and lines[-1].startswith('{"figures"'):
        figures = [Figure.model_validate(f) for f in json.loads(lines.pop())["figures"]]
    if exit_code != 0:
        # A failure's reason is on stderr (the stack's logs are gone with its temporary home).
        lines += ["", f"exit status {exit_code}", *stderr.rstrip().splitlines()[-20:]]
    output = "\n".join(lines)
    print(output, flush=True)
    return Run(
        name=name,
        command=command,
        load_average=load_average,
        seconds=seconds,
        exit_code=exit_code,
        output=output,
        figures=figures,
    )


def shown(command: list[str]) -> str:
    """The command as typed in the repository: the venv's interpreter by its relative path."""
    executable = Path(command[0])
    if executable.is_relative_to(BENCH_DIR.parent):
        executable = executable.relative_to(BENCH_DIR.parent)
    return shlex.join([str(executable), *command[1:]])


def machine() -> dict[str, str]:
    """What the figures were measured on, and how busy it was as they began."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor() or "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    memory_gib = int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return {
        "CPU": model,
        "cores": str(os.cpu_count()),
        "memory": f"{memory_gib:.1f} GiB",
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "system": platform.platform(),
        "load average before (1, 5, 15 min)": load,
    }


def _number(value: float) -> str:
    """Three significant digits (trailing zeros kept), and no exponent for large values."""
    return f"{value:#.3g}".rstrip(".") if abs(value) < 100 else f"{value:.0f}"


def markdown(runs: list[Run], host: dict[str, str], started: datetime, seconds: float) -> str:
    out = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`bench/run_all.py`) on {started:%Y-%m-%d %H:%M} UTC; all "
        f"{len(runs)} benchmarks took {seconds / 60:.1f} min. Each figure's baseline was "
        "measured in the same run of the same benchmark; the ratio is figure / baseline.",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in host.items()),
    ]
    for result in runs:
        status = "" if result.exit_code == 0 else f", exit status {result.exit_code}"
        out += [
            "",
            f"## {result.name}",
            "",
            f"`{shown(result.command)}`: {result.seconds:.0f} s{status}, load average "
            f"{result.load_average:.2f} as it started",
            "",
            "| figure | value | baseline | baseline value | ratio | |",
            "|---|---:|---|---:|---:|---|",
        ]
        out += [
            f"| {f.figure} | {_number(f.value)} {f.unit} | {f.baseline} | "
            f"{_number(f.baseline_value)} {f.unit} | {_number(f.ratio)} | {f.note} |"
            for f in result.figures
        ] or ["| (no figures: see the output) | | | | | |"]
        out += ["", "```", result.output, "```"]
    return "\n".join(out) + "\n"


def main() -> int:
    started, begun = datetime.now(UTC), time.perf_counter()
    host = machine()
    runs = [run(name) for name in benchmarks()]
    RESULTS.write_text(markdown(runs, host, started, time.perf_counter() - begun))
    print(f"wrote {RESULTS}")
    return 1 if any(result.exit_code for result in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
