"""atomic_write: a file appears whole, private, or not at all."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from afs.files import atomic_write


def test_the_file_appears_whole_and_private(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "file.bin"
    with atomic_write(target) as out:
        out.write(b"first ")
        assert not target.exists()
        out.write(b"second")
    assert target.read_bytes() == b"first second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(path.name for path in target.parent.iterdir()) == ["file.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")

    def write_half_then_break() -> None:
        with atomic_write(target) as out:
            out.write(b"new, half")
            raise RuntimeError("broke")

    with pytest.raises(RuntimeError, match="broke"):
        write_half_then_break()
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["file.bin"]
