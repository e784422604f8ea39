"""Tcl quoting and the build script: nothing a tenant typed is ever evaluated by Tcl."""

from __future__ import annotations

import importlib.resources
import re
import subprocess
import tkinter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from afs.build.tcl import TEMPLATES, BuildScriptInputs, render_build_script, tcl_quote
from afs.devstack.samples import write_sample_dcp, write_sample_shell_dcp
from afs.settings import VU9P_PART, emulator_binary

HOSTILE = [
    "",
    "plain",
    "two words",
    "[pwned]",
    "$pwned",
    "${pwned}",
    "$::env(HOME)",
    "[exec touch /tmp/pwned]",
    "{unbalanced",
    "unbalanced}",
    "}{",
    '"; pwned; "',
    "a\\",
    "\\",
    "back\\nslash",
    "line\nbreak",
    "line\\\ncontinued",
    "tab\there",
    "cr\rlf",
    "nul\x00byte",
    "\x01\x1f\x7f",
    "\x01abc",  # a hex digit right after an escape must not be absorbed by it
    "; pwned",
    "# comment",
    "{*}[pwned]",
    "日本語 é ñ",
    "emoji \U0001f600 beyond the BMP",
]


@pytest.fixture
def tcl() -> tkinter.Tcl:
    interp = tkinter.Tcl()
    interp.eval("set ::pwned 0; proc pwned args { set ::pwned 1 }")
    return interp


@pytest.mark.parametrize("value", HOSTILE)
def test_quoted_value_comes_back_exactly_and_runs_nothing(tcl, value: str) -> None:
    quoted = tcl_quote(value)
    assert tcl.eval(f"set v {quoted}") == value
    assert tcl.getvar("v") == value
    # Inside a braced body too (braces in the value must not unbalance it).
    tcl.eval(f"if 1 {{ set w {quoted} }}")
    assert tcl.getvar("w") == value
    assert tcl.eval("set ::pwned") == "0"


@pytest.mark.parametrize("value", HOSTILE)
def test_quoted_word_is_one_ascii_line(value: str) -> None:
    quoted = tcl_quote(value)
    assert quoted.isascii()
    assert "\n" not in quoted
    assert "\r" not in quoted
    assert quoted.startswith('"')
    assert quoted.endswith('"')


def test_exec_in_a_value_is_not_run(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    value = f"[exec touch {canary}]"
    assert tkinter.Tcl().eval(f"set v {tcl_quote(value)}") == value
    assert not canary.exists()


@given(st.text())
def test_any_text_round_trips(value: str) -> None:
    assert tkinter.Tcl().eval(f"set v {tcl_quote(value)}") == value


def test_only_strings_are_quoted() -> None:
    with pytest.raises(TypeError):
        tcl_quote(Path("/tmp"))  # type: ignore[arg-type]


def test_every_template_value_goes_through_the_tcl_filter() -> None:
    templates = [
        entry
        for entry in importlib.resources.files(TEMPLATES).iterdir()
        if entry.name.endswith(".j2")
    ]
    assert templates
    for template in templates:
        text = template.read_text()
        expressions = re.findall(r"\{\{(.*?)\}\}", text, flags=re.S)
        assert expressions, template
        for expression in expressions:
            assert re.fullmatch(r"\s*\w+\s*\|\s*tcl\s*", expression), (template, expression)
        assert "{%" not in text, "no logic in templates: values only"


def _inputs(root: Path, image_id: str) -> BuildScriptInputs:
    root.mkdir(parents=True)
    return BuildScriptInputs(
        image_id=image_id,
        user_dcp=write_sample_dcp(root / "user [x] $y.dcp"),
        shell_dcp=write_sample_shell_dcp(root / "shell {z}.dcp", "0x01010029"),
        output_dir=root / "out",
        reports_dir=root / "reports",
    )


def test_outputs_are_named_by_the_inputs(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "b", "0123456789abcdef0123456789abcdef")
    assert inputs.partial_bit.parent == inputs.output_dir
    assert inputs.partial_bin == inputs.partial_bit.with_suffix(".bin")
    assert inputs.part == VU9P_PART
    script = render_build_script(inputs)
    assert inputs.partial_bin.name == f"ul_pr_top_{inputs.pblock}_partial.bin"
    assert f"set afs_bitstream {tcl_quote(str(inputs.bitstream))}" in script
    # The FP1 kit's pr_verify_bitgen.tcl: the tenant's whole design against the shell, opened
    # and written as it is; never re-assembled from a module.
    assert "pr_verify -full_check -file" in script
    assert "$afs_user_dcp $afs_shell_dcp\n" in script
    assert "open_checkpoint $afs_user_dcp\n" in script
    assert "read_checkpoint" not in script
    assert "set_property BITSTREAM.GENERAL.COMPRESS TRUE [current_design]" in script
    assert "set_param bitstream.enablePR 4123" in script
    assert "write_bitstream -force -bin_file $afs_bitstream" in script


def test_hostile_paths_and_image_id_build_in_the_emulator(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    hostile_dir = tmp_path / f'we ird $HOME [exec touch {canary}] {{b}} "q" \\ é中\nnl'
    image_id = f"[exec touch {canary}]$env(HOME)\\{{"
    inputs = _inputs(hostile_dir, image_id)
    script = tmp_path / "build.tcl"
    script.write_text(render_build_script(inputs))
    result = subprocess.run(
        [emulator_binary(), "-mode", "batch", "-source", str(script), "-nojournal", "-notrace"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    assert f"INFO: [AFS 1-0] Building the partial bitstream of image {image_id}\n" in result.stdout
    assert inputs.partial_bit.is_file()
    assert inputs.partial_bin.is_file()
    assert (inputs.reports_dir / "timing_summary.rpt").is_file()
    assert not canary.exists()
