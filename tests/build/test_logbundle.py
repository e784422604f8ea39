"""The log tarball: what a tenant gets back, whatever step the build reached."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from afs.build.logbundle import BuildOutcome, package_logs
from afs.build.workspace import Workspace
from afs.status import ImageStatus

IMAGE_ID = "4010a32c5c62bad9015c62dc2290002b"


def names_in(tarball: Path) -> dict[str, bytes]:
    with tarfile.open(tarball) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}


def test_a_build_that_failed_before_vivado_still_gets_a_status_and_its_pipeline_log(
    tmp_path: Path,
) -> None:
    workspace = Workspace.create(tmp_path, IMAGE_ID, "run-1")
    workspace.pipeline_log.write_text("fetching...\n")
    outcome = BuildOutcome(
        image_id=IMAGE_ID, status=ImageStatus.ERROR, message="INACCESSIBLE_INPUT: no such key"
    )

    contents = names_in(package_logs(workspace, outcome))

    top = f"{IMAGE_ID}_log"
    assert set(contents) == {f"{top}/pipeline.log", f"{top}/status.json"}
    assert json.loads(contents[f"{top}/status.json"]) == {
        "image_id": IMAGE_ID,
        "status": "error",
        "message": "INACCESSIBLE_INPUT: no such key",
    }


def test_a_full_build_bundles_vivado_logs_reports_script_and_manifest(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path, IMAGE_ID, "run-1")
    workspace.pipeline_log.write_text("log")
    workspace.build_script.write_text("open_checkpoint x")
    (workspace.input_dir / "manifest.json").write_text("{}")
    (workspace.input_dir / "design.dcp").write_bytes(b"PK")
    workspace.vivado_dir.mkdir()
    (workspace.vivado_dir / "vivado.log").write_text("INFO: [Common 17-206] Exiting Vivado")
    (workspace.vivado_dir / "vivado.jou").write_text("open_checkpoint")
    (workspace.vivado_dir / "tmp").mkdir()
    (workspace.vivado_dir / "tmp" / "scratch.bin").write_bytes(b"\0" * 10)
    (workspace.reports_dir / "timing_summary.rpt").write_text("WNS 0.1")

    contents = names_in(
        package_logs(workspace, BuildOutcome(image_id=IMAGE_ID, status=ImageStatus.ACTIVE))
    )

    assert {name.split("/", 1)[1] for name in contents} == {
        "pipeline.log",
        "build.tcl",
        "manifest.json",
        "vivado/vivado.log",
        "vivado/vivado.jou",
        "reports/timing_summary.rpt",
        "status.json",
    }, "the DCP itself and Vivado's scratch files stay out"
