"""The `afs` tools a tenant or operator runs by hand."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from afs.devstack.samples import (
    SHELL_TOP,
    write_sample_dcp,
    write_sample_module_dcp,
    write_sample_xclbin,
)
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


def test_pack_of_an_xclbin_takes_the_sdaccel_pairing_and_packs_split_primary(
    tmp_path: Path,
) -> None:
    xclbin = write_sample_xclbin(tmp_path / "vadd.xclbin")
    out = tmp_path / "dcp.tar"
    completed = afs("pack", str(xclbin), "-o", str(out))
    assert completed.returncode == 0, completed.stderr
    manifest = json.loads(completed.stdout)
    assert (manifest["flow_type"], manifest["shell_id"], manifest["tool_version"]) == (
        "sdaccel",
        "0x01210101",
        "2017.4.op",
    )
    with tarfile.open(out) as archive:
        assert archive.getnames() == ["./split-primary.dcp", "./manifest.json"]


def test_pack_refuses_a_shell_the_factory_does_not_build_before_writing(tmp_path: Path) -> None:
    dcp = write_sample_dcp(tmp_path / "ul_pr_top_routed.dcp")
    out = tmp_path / "dcp.tar"
    completed = afs("pack", str(dcp), "--shell-id", "0x01010030", "-o", str(out))
    assert completed.returncode == 2
    assert completed.stderr == (
        "afs pack: shell_id '0x01010030' is not one of 0x01010029, 0x01210101\n"
    )
    assert not out.exists()


def test_bitstream_info_prints_a_bit_files_header_as_json(tmp_path: Path) -> None:
    bit = tmp_path / "x.bit"
    assert afs("sample", "bitstream", "-o", str(bit)).returncode == 0
    completed = afs("bitstream", "info", str(bit))
    assert completed.returncode == 0, completed.stderr
    info = json.loads(completed.stdout)
    assert {key: info[key] for key in ("kind", "part", "partial", "tool_version")} == {
        "kind": "bit",
        "part": "xcvu9p-flgb2104-2-i",
        "partial": True,
        "tool_version": "2017.4.op",
    }
    assert info["data_bytes"] < bit.stat().st_size
    assert len(info["sha256"]) == 64


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: write_sample_dcp(p / "x.dcp"), "is not a Xilinx bitstream"),
        (lambda p: write_sample_xclbin(p / "x.xclbin"), "holds a design checkpoint"),
    ],
    ids=["checkpoint", "xclbin-of-a-checkpoint"],
)
def test_bitstream_info_refuses_what_is_not_a_bitstream_with_exit_2(
    tmp_path: Path, make, reason: str
) -> None:
    completed = afs("bitstream", "info", str(make(tmp_path)))
    assert completed.returncode == 2
    assert reason in completed.stderr
    assert completed.stdout == ""


def test_xclbin_add_image_id_writes_it_at_byte_416(tmp_path: Path) -> None:
    xclbin = write_sample_xclbin(tmp_path / "vadd.xclbin")
    before = xclbin.read_bytes()
    image_id = "4010a32c5c62bad9015c62dc2290002b"
    completed = afs("xclbin", "add-image-id", str(xclbin), image_id)
    assert completed.returncode == 0, completed.stderr
    after = xclbin.read_bytes()
    assert after[416:448] == image_id.encode()
    assert after[:416] + after[448:] == before[:416] + before[448:]


def test_xclbin_add_image_id_refuses_an_id_that_is_not_one_and_changes_nothing(
    tmp_path: Path,
) -> None:
    xclbin = write_sample_xclbin(tmp_path / "vadd.xclbin")
    before = xclbin.read_bytes()
    completed = afs("xclbin", "add-image-id", str(xclbin), "4010A32C")
    assert completed.returncode == 2
    assert "not 32 lowercase hexadecimal digits" in completed.stderr
    assert xclbin.read_bytes() == before
