"""The build summary a person reads on the run's Artifacts page, from what the build left."""

from __future__ import annotations

from pathlib import Path

import pytest

from afs.build.summary import (
    BuildSummary,
    StepTime,
    read_pblock_utilization,
    read_timing,
    vivado_phase,
)
from afs.build.vivado.logparse import LogSummary
from afs.models import FpgaImageRequest

REQUEST = FpgaImageRequest(dcp_location="obs-fpga:vu9p/dcp.tar", name="demo", log_directory="log")

EMULATOR_TIMING = """\
Design Timing Summary
---------------------
    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)
      0.078        0.000                      0                39117        0.039
"""
# As Vivado 2017.x writes it: a dashed rule under the header, more columns after WHS.
VIVADO_TIMING = """\
------------------------------------------------------------------------------------------------
| Design Timing Summary
| ---------------------
------------------------------------------------------------------------------------------------

    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)      THS(ns)
    -------      -------  ---------------------  -------------------      -------      -------
     -0.212       -3.402                     41               412398        0.010        0.000
"""


@pytest.mark.parametrize(
    ("report", "setup", "hold"), [(EMULATOR_TIMING, 0.078, 0.039), (VIVADO_TIMING, -0.212, 0.010)]
)
def test_worst_setup_and_hold_slack_are_read_from_the_timing_summary(
    tmp_path: Path, report: str, setup: float, hold: float
) -> None:
    path = tmp_path / "timing_summary.rpt"
    path.write_text(report)
    timing = read_timing(path)
    assert timing is not None
    assert (timing.worst_setup_slack_ns, timing.worst_hold_slack_ns) == (setup, hold)


def test_no_report_or_no_summary_table_is_no_timing(tmp_path: Path) -> None:
    (tmp_path / "other.rpt").write_text("WNS(ns) WHS(ns)\n")
    assert read_timing(tmp_path / "missing.rpt") is None
    assert read_timing(tmp_path / "other.rpt") is None


def test_the_pblocks_utilization_table_is_kept_as_vivado_wrote_it(tmp_path: Path) -> None:
    report = tmp_path / "utilization_pblock.rpt"
    report.write_text(
        "| Tool Version : Vivado v2017.2\n| Date         : today\n\n"
        "| Site Type | Used | Available | Util% |\n| CLB LUTs | 103287 | 1182240 | 8.74 |\n"
    )
    assert read_pblock_utilization(report) == [
        "| Site Type | Used | Available | Util% |",
        "| CLB LUTs | 103287 | 1182240 | 8.74 |",
    ]


@pytest.mark.parametrize(
    ("line", "phase"),
    [
        ("open_checkpoint completed successfully", ("design opened", 0.3)),
        ("write_bitstream completed successfully", ("bitstream written", 1.0)),
        ("INFO: [Common 17-206] Exiting Vivado", None),
    ],
)
def test_vivados_log_lines_mark_the_builds_progress(line: str, phase: object) -> None:
    assert vivado_phase(line) == phase


def test_a_built_image_summary_says_where_everything_landed() -> None:
    summary = BuildSummary(
        image_id="a" * 32,
        request=REQUEST,
        vivado=LogSummary(infos=10, warnings=2, critical_warnings=0, errors=0),
        toolchain="Vivado v2017.2 (64-bit)",
        steps=[StepTime(step="run-vivado", seconds=41.5)],
        image_file="afs-image-store:p/a.aei",
        log_tarball="obs-fpga:log/a_log.tar",
    )
    markdown = summary.to_markdown()
    assert markdown.startswith(f"# Image {'a' * 32}\n\n**Built**")
    assert "- DCP tarball: `obs-fpga:vu9p/dcp.tar`" in markdown
    assert "0 errors, 0 critical warnings, 2 warnings, 10 infos" in markdown
    assert "| run-vivado | 41.5 |" in markdown
    assert "- image file: `afs-image-store:p/a.aei`" in markdown
    assert "- log tarball: `obs-fpga:log/a_log.tar`" in markdown


def test_a_failed_image_summary_leads_with_its_cause() -> None:
    summary = BuildSummary(
        image_id="b" * 32, request=REQUEST, failure="TIMING_VIOLATION: WNS -0.212 ns"
    )
    lines = summary.to_markdown().splitlines()
    assert lines[2] == "**Failed: TIMING_VIOLATION** — TIMING_VIOLATION: WNS -0.212 ns"
    assert "- image file: `(none)`" in lines
