"""Sample checkpoints: shaped as the FP1 kit's flow makes them, the upload fits its shell."""

from __future__ import annotations

import zipfile
from pathlib import Path

from afs.build.vivado.emulator.checkpoints import load_checkpoint
from afs.devstack.samples import (
    EMULATOR_FAULT_MEMBER,
    SHELL_TOP,
    USER_CELL,
    USER_PBLOCK,
    USER_TOP,
    sample_pblock_xdc,
    write_sample_dcp,
    write_sample_module_dcp,
    write_sample_shell_dcp,
)
from afs.inputs.dcp import read_dcp
from afs.settings import VU9P_PART


def test_shell_sample_is_a_routed_static_design_with_a_black_box_partition(tmp_path: Path) -> None:
    shell = load_checkpoint(write_sample_shell_dcp(tmp_path / "shell.dcp", "0x01010029"))
    assert (shell.info.part, shell.info.top, shell.info.out_of_context) == (
        VU9P_PART,
        SHELL_TOP,
        False,
    )
    assert shell.content.stage == "routed"
    assert shell.content.reconfigurable == {USER_CELL: USER_PBLOCK}
    assert shell.content.cells[USER_CELL].black_box
    with zipfile.ZipFile(shell.path) as archive:
        xdc = archive.read(f"{SHELL_TOP}.xdc").decode()
        assert EMULATOR_FAULT_MEMBER not in archive.namelist()
    assert f"set_property HD.RECONFIGURABLE true [get_cells {USER_CELL}]" in xdc
    assert f"add_cells_to_pblock [get_pblocks {USER_PBLOCK}] [get_cells {USER_CELL}]" in xdc


def test_each_shell_id_has_its_own_static_design(tmp_path: Path) -> None:
    one = load_checkpoint(write_sample_shell_dcp(tmp_path / "a.dcp", "0x01010029"))
    other = load_checkpoint(write_sample_shell_dcp(tmp_path / "b.dcp", "0x01210101"))
    again = load_checkpoint(write_sample_shell_dcp(tmp_path / "c.dcp", "0x01010029"))
    assert one.content.static_digest == again.content.static_digest
    assert one.content.static_digest != other.content.static_digest


def test_the_upload_is_the_whole_design_routed_on_its_shell(tmp_path: Path) -> None:
    shell = load_checkpoint(write_sample_shell_dcp(tmp_path / "shell.dcp", "0x01210101"))
    upload = load_checkpoint(write_sample_dcp(tmp_path / "up.dcp", shell_id="0x01210101"))
    assert (upload.info.top, upload.info.out_of_context) == (SHELL_TOP, False)
    assert upload.content.stage == "routed"
    assert upload.content.static_digest == shell.content.static_digest
    assert upload.content.reconfigurable == shell.content.reconfigurable
    user = upload.content.cells[USER_CELL]
    assert (user.ref, user.black_box) == (USER_TOP, False)
    assert user.placement


def test_the_module_is_synthesized_out_of_context(tmp_path: Path) -> None:
    module = load_checkpoint(write_sample_module_dcp(tmp_path / "m.dcp"))
    assert (module.info.top, module.info.out_of_context) == (USER_TOP, True)
    assert module.content.stage == "synthesized"
    assert not module.is_static


def test_the_pblock_constraints_are_the_kits(tmp_path: Path) -> None:
    xdc = sample_pblock_xdc()
    assert f"create_pblock {USER_PBLOCK}\n" in xdc
    assert f"set_property HD.RECONFIGURABLE true [get_cells {USER_CELL}]\n" in xdc
    assert "-add {CLOCKREGION_X0Y0:CLOCKREGION_X5Y14}" in xdc
    assert "-remove {CLOCKREGION_X3Y4:CLOCKREGION_X5Y9}" in xdc


def test_user_sample_carries_a_fault_only_when_asked(tmp_path: Path) -> None:
    plain = write_sample_dcp(tmp_path / "plain.dcp")
    faulty = write_sample_dcp(tmp_path / "faulty.dcp", emulator_fault="hang")
    with zipfile.ZipFile(plain) as archive:
        assert EMULATOR_FAULT_MEMBER not in archive.namelist()
    with zipfile.ZipFile(faulty) as archive:
        assert archive.read(EMULATOR_FAULT_MEMBER) == b"hang"
    assert read_dcp(faulty).top == SHELL_TOP
