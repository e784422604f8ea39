"""The `afs` tools a tenant or operator runs by hand."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from afs.devstack.samples import SHELL_TOP, write_sample_dcp, write_sample_module_dcp
from afs.inputs.dcp import read_dcp


def afs(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "afs.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_pack_writes_a_tarball_with_a_manifest(tmp_path: Path) -> None:
    dcp = write_sample_dcp(tmp_path / "ul_pr_top_routed.dcp")
    out = tmp_path / "dcp.tar"
    completed = afs(
        "pack", str(dcp), "--shell-id", "0x01010029", "--tool-version", "2017.2", "-o", str(out)
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["shell_id"] == "0x01010029"
    with tarfile.open(out) as archive:
        assert archive.getnames() == ["./ul_pr_top_routed.dcp", "./manifest.json"]


def test_pack_refuses_a_dcp_for_another_part_and_writes_nothing(tmp_path: Path) -> None:
    dcp = write_sample_dcp(tmp_path / "other.dcp", part="xcku115-flvb2104-2-e")
    out = tmp_path / "dcp.tar"
    completed = afs(
        "pack", str(dcp), "--shell-id", "0x01010029", "--tool-version", "2017.2", "-o", str(out)
    )
    assert completed.returncode == 2
    assert "xcku115-flvb2104-2-e" in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_pack_refuses_a_module_synthesized_out_of_context_and_says_what_to_upload(
    tmp_path: Path,
) -> None:
    dcp = write_sample_module_dcp(tmp_path / "ul_pr_top_post_synth.dcp")
    out = tmp_path / "dcp.tar"
    completed = afs(
        "pack", str(dcp), "--shell-id", "0x01010029", "--tool-version", "2017.2", "-o", str(out)
    )
    assert completed.returncode == 2
    assert completed.stderr.startswith("afs pack: ul_pr_top_post_synth.dcp is out of context")
    assert "to_facs/<prj>_routed.dcp" in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_sample_writes_what_the_kits_tenant_flow_builds_against(tmp_path: Path) -> None:
    for what, extra, name in [
        ("shell", ["0x01010029"], "SH_UL_BB_routed.dcp"),
        ("module", [], "ul_pr_top_post_synth.dcp"),
        ("pblock-xdc", [], "pr_pblock.xdc"),
    ]:
        completed = afs("sample", what, *extra, "-o", str(tmp_path / name))
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout.strip() == str(tmp_path / name)
    assert read_dcp(tmp_path / "SH_UL_BB_routed.dcp").top == SHELL_TOP
    assert read_dcp(tmp_path / "ul_pr_top_post_synth.dcp").out_of_context is True
    assert "create_pblock" in (tmp_path / "pr_pblock.xdc").read_text()


def test_sample_says_why_it_cannot_write(tmp_path: Path) -> None:
    completed = afs("sample", "module", "-o", str(tmp_path / "no" / "such" / "m.dcp"))
    assert completed.returncode == 2
    assert completed.stderr.startswith("afs sample module: cannot write ")


def test_dcp_info_prints_what_the_checkpoint_says(tmp_path: Path) -> None:
    dcp = write_sample_dcp(tmp_path / "d.dcp", product="Vivado v2018.3 (64-bit)")
    completed = afs("dcp", "info", str(dcp))
    assert completed.returncode == 0, completed.stderr
    info = json.loads(completed.stdout)
    assert info["part"] == "xcvu9p-flgb2104-2-i"
    assert info["product"] == "Vivado v2018.3 (64-bit)"
    assert info["top"] == SHELL_TOP
    assert info["checkpoint_version"]


def test_dcp_info_gives_a_one_line_reason_for_a_file_that_is_no_dcp(tmp_path: Path) -> None:
    not_a_dcp = tmp_path / "notes.dcp"
    not_a_dcp.write_text("hello")
    completed = afs("dcp", "info", str(not_a_dcp))
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert "not a ZIP" in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("dcp.tar", "not a design checkpoint (the name does not end in .dcp)"),
        ("missing.dcp", "no such file"),
    ],
)
def test_dcp_info_refuses_what_is_no_dcp_file_naming_its_whole_path(
    tmp_path: Path, name: str, reason: str
) -> None:
    """As `afs pack` does: an input error (exit 2), said once, with the whole path."""
    path = tmp_path / "in" / name
    path.parent.mkdir()
    if name.endswith(".tar"):
        write_sample_dcp(path)  # a DCP's bytes under a tarball's name are refused by the name
    completed = afs("dcp", "info", str(path))
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.strip() == f"afs dcp info: {path}: {reason}"


def test_vivado_log_summarizes_a_log(tmp_path: Path) -> None:
    log = tmp_path / "vivado.log"
    log.write_text(
        "INFO: [Common 17-206] starting\n"
        "WARNING: [Vivado 12-584] No ports matched 'x'\n"
        "CRITICAL WARNING: [Constraints 18-1056] Clock not found\n"
        "ERROR: [DRC NSTD-1] Unspecified I/O Standard: 2 out of 100 logical ports\n"
        "write_bitstream failed\n"
        "1 Infos, 1 Warnings, 1 Critical Warnings and 1 Errors encountered.\n"
    )
    completed = afs("vivado-log", str(log))
    assert completed.returncode == 0, completed.stderr
    summary = json.loads(completed.stdout)
    assert (summary["infos"], summary["warnings"]) == (1, 1)
    assert (summary["critical_warnings"], summary["errors"]) == (1, 1)
    assert summary["first_errors"] == [
        "ERROR: [DRC NSTD-1] Unspecified I/O Standard: 2 out of 100 logical ports"
    ]
    assert summary["last_summary"]["errors"] == 1
    assert summary["exited_normally"] is False


def test_vivado_log_of_a_missing_file_fails_clearly(tmp_path: Path) -> None:
    completed = afs("vivado-log", str(tmp_path / "absent.log"))
    assert completed.returncode == 1
    assert "absent.log" in completed.stderr
