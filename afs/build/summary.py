"""What one build did, for the people watching it: the summary the orchestration layer publishes
as the run's artifacts (afs.orchestration.artifacts). Plain data and text, no Prefect.

Everything here is safe to show: the request has no secret, and reports are read from the
workspace the tenant's log tarball also holds.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from afs.build.vivado.logparse import LogSummary
from afs.build.vivado.runner import VivadoRun
from afs.errors import cause_of
from afs.inputs.archive import CheckedInput
from afs.models import FpgaImageRequest

# What Vivado's log says as each phase of the build script ends, and how far the build is then.
VIVADO_PHASES: dict[str, tuple[str, float]] = {
    "open_checkpoint completed successfully": ("design opened", 0.3),
    "pr_verify completed successfully": ("pr_verify passed", 0.45),
    "report_timing_summary completed successfully": ("timing reported", 0.6),
    "report_utilization completed successfully": ("utilization reported", 0.7),
    "report_drc completed successfully": ("DRC reported", 0.8),
    "write_bitstream completed successfully": ("bitstream written", 1.0),
}
_UTILIZATION_ROWS = 12
# What check_tarball has verified of an input that passed it (its module docstring's order).
INPUT_CHECKS = (
    "tarball size and member count within limits",
    "member names and types safe (no links, devices or absolute paths)",
    "manifest.json present, parsed and valid",
    "exactly one DCP at the root",
    "DCP sha256 matches the manifest",
    "DCP is a readable checkpoint for the VU9P part",
    "shell id and tool version allowed",
)


class Timing(BaseModel):
    worst_setup_slack_ns: float
    worst_hold_slack_ns: float


class StepTime(BaseModel):
    step: str
    seconds: float


class BuildSummary(BaseModel):
    image_id: str
    request: FpgaImageRequest
    manifest: dict[str, str] | None = None
    dcp: dict[str, str | None] | None = None
    checks_passed: list[str] = []
    vivado: LogSummary | None = None
    toolchain: str | None = None
    timing: Timing | None = None
    pblock_utilization: list[str] = []  # the report's table lines, as Vivado wrote them
    steps: list[StepTime] = []
    image_file: str | None = None  # bucket:key
    log_tarball: str | None = None  # bucket:key
    failure: str | None = None  # CODE: text

    def record_input(self, checked: CheckedInput) -> None:
        """What the tarball's checks found (they all passed)."""
        self.manifest = {key: str(value) for key, value in checked.manifest.model_dump().items()}
        self.dcp = {"part": checked.dcp.part, "top": checked.dcp.top, "tool": checked.dcp.product}
        self.checks_passed = list(INPUT_CHECKS)

    def record_vivado(self, run: VivadoRun) -> None:
        self.vivado, self.toolchain = run.summary, run.tool_identity

    def record_reports(self, reports_dir: Path) -> None:
        """Timing and the pblock's utilization, from the reports Vivado wrote (if it got so far)."""
        self.timing = read_timing(reports_dir / "timing_summary.rpt")
        self.pblock_utilization = read_pblock_utilization(reports_dir / "utilization_pblock.rpt")

    def to_markdown(self) -> str:
        return "\n".join(_markdown(self)) + "\n"


def vivado_phase(line: str) -> tuple[str, float] | None:
    """The phase a line of Vivado's log says has ended, and the build's progress then."""
    return next((phase for marker, phase in VIVADO_PHASES.items() if marker in line), None)


def read_timing(report: Path) -> Timing | None:
    """Worst setup (WNS) and hold (WHS) slack from report_timing_summary's design summary: the
    first and fifth values under its `WNS(ns) TNS(ns) ... WHS(ns)` header."""
    try:
        lines = report.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for number, line in enumerate(lines):
        if "WNS(ns)" in line and "WHS(ns)" in line:
            rows = (row.split() for row in lines[number + 1 :] if row.strip())
            values = next(rows, [])
            if values and set(values[0]) <= set("-"):  # Vivado's dashed rule under the header
                values = next(rows, [])
            try:
                return Timing(
                    worst_setup_slack_ns=float(values[0]), worst_hold_slack_ns=float(values[4])
                )
            except (IndexError, ValueError):
                return None
    return None


def read_pblock_utilization(report: Path) -> list[str]:
    """The table lines of the pblock's utilization report (at most a dozen)."""
    try:
        lines = report.read_text(errors="replace").splitlines()
    except OSError:
        return []
    table = [line for line in lines if line.startswith("|") and "Tool Version" not in line]
    rows = [line for line in table if not line.startswith("| Date") and ":" not in line[:20]]
    return rows[:_UTILIZATION_ROWS]


def _markdown(summary: BuildSummary) -> list[str]:
    request = summary.request
    lines = [f"# Image {summary.image_id}", ""]
    if summary.failure:
        cause = cause_of(summary.failure)
        lines += [f"**Failed: {cause.value if cause else 'error'}** — {summary.failure}", ""]
    else:
        lines += ["**Built**" if summary.image_file else "**In progress**", ""]
    log_directory = request.log_directory or "(the DCP tarball's)"
    lines += [
        "## Request",
        f"- name: `{request.name}`",
        f"- DCP tarball: `{request.dcp_location}`",
        f"- log directory: `{log_directory}`",
        f"- description: {request.description or '(none)'}",
        "",
    ]
    if summary.manifest:
        fields = summary.manifest.items()
        lines += ["## Manifest", *(f"- {key}: `{value}`" for key, value in fields), ""]
    if summary.dcp:
        lines += ["## DCP", *(f"- {key}: `{value}`" for key, value in summary.dcp.items()), ""]
    if summary.checks_passed:
        lines += ["## Checks passed", *(f"- {check}" for check in summary.checks_passed), ""]
    if summary.vivado:
        vivado = summary.vivado
        lines += [
            "## Vivado",
            f"- tool: {summary.toolchain or 'unknown'}",
            f"- messages: {vivado.errors} errors, {vivado.critical_warnings} critical warnings, "
            f"{vivado.warnings} warnings, {vivado.infos} infos",
            *(f"- first error: `{error}`" for error in vivado.first_errors),
            "",
        ]
    if summary.timing:
        lines += [
            "## Timing",
            f"- worst setup slack (WNS): {summary.timing.worst_setup_slack_ns:.3f} ns",
            f"- worst hold slack (WHS): {summary.timing.worst_hold_slack_ns:.3f} ns",
            "",
        ]
    if summary.pblock_utilization:
        lines += ["## Partition (pblock) utilization", *summary.pblock_utilization, ""]
    if summary.steps:
        lines += ["## Steps", "| step | seconds |", "|---|---|"]
        lines += [f"| {step.step} | {step.seconds:.1f} |" for step in summary.steps]
        lines.append("")
    lines += [
        "## Where it landed",
        f"- image file: `{summary.image_file or '(none)'}`",
        f"- log tarball: `{summary.log_tarball or '(none)'}`",
    ]
    return lines
