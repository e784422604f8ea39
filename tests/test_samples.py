"""Sample checkpoints: readable DCPs; the shell declares the partition the user sample fills."""

from __future__ import annotations

import zipfile
from pathlib import Path

from afs.dcp import read_dcp
from afs.samples import (
    EMULATOR_FAULT_MEMBER,
    USER_CELL,
    USER_PBLOCK,
    USER_TOP,
    write_sample_dcp,
    write_sample_shell_dcp,
)
from afs.settings import VU9P_PART


def test_shell_sample_is_a_static_checkpoint_with_the_user_partition(tmp_path: Path) -> None:
    shell = write_sample_shell_dcp(tmp_path / "shell.dcp", "0x01010029")
    info = read_dcp(shell)
    assert info.part == VU9P_PART
    assert info.top != USER_TOP
    with zipfile.ZipFile(shell) as archive:
        xdc = archive.read(f"{info.top}.xdc").decode()
        assert EMULATOR_FAULT_MEMBER not in archive.namelist()
    assert "0x01010029" in xdc
    assert "test/demo fixture" in xdc
    assert f"set_property HD.RECONFIGURABLE true [get_cells {USER_CELL}]" in xdc
    assert f"add_cells_to_pblock [get_pblocks {USER_PBLOCK}] [get_cells {USER_CELL}]" in xdc


def test_user_sample_carries_a_fault_only_when_asked(tmp_path: Path) -> None:
    plain = write_sample_dcp(tmp_path / "plain.dcp")
    faulty = write_sample_dcp(tmp_path / "faulty.dcp", emulator_fault="hang")
    with zipfile.ZipFile(plain) as archive:
        assert EMULATOR_FAULT_MEMBER not in archive.namelist()
    with zipfile.ZipFile(faulty) as archive:
        assert archive.read(EMULATOR_FAULT_MEMBER) == b"hang"
    assert read_dcp(faulty).top == USER_TOP
