"""The image file format: what write_aei writes is what read_aei accepts, and nothing else."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import pytest

from afs.build.aei import HEADER, AeiError, read_aei, read_aei_bitstream, write_aei

METADATA = {"name": "fpga-image-test", "description": "测试。", "shell_id": "0x01010029", "n": 3}


def _bitstream(tmp_path: Path, size: int = 10_001) -> Path:
    path = tmp_path / "ul_pr_top.bin"
    path.write_bytes(os.urandom(size))
    return path


def _image(tmp_path: Path, metadata: dict | None = None, size: int = 10_001) -> Path:
    path = tmp_path / "image.aei"
    write_aei(path, METADATA if metadata is None else metadata, _bitstream(tmp_path, size))
    return path


def _raw_image(meta: bytes, bitstream: bytes, magic: bytes = b"AEIv1.0\0") -> bytes:
    """An image assembled by hand, with a correct trailer, to test the reader's other checks."""
    body = (
        struct.pack(">8s i i 64s", magic, len(meta), len(bitstream), bytes(64)) + meta + bitstream
    )
    return body + hashlib.sha256(body).digest()


def test_round_trip(tmp_path: Path) -> None:
    bitstream = _bitstream(tmp_path, size=3 * 1024 * 1024 + 7)  # several read chunks
    path = tmp_path / "out" / "image.aei"

    written = write_aei(path, METADATA, bitstream)
    read = read_aei(path)

    assert read == written
    assert read.metadata == METADATA
    assert read.bitstream_length == bitstream.stat().st_size
    assert read_aei_bitstream(path) == bitstream.read_bytes()
    data = path.read_bytes()
    assert read.sha256 == hashlib.sha256(data[:-32]).hexdigest() == data[-32:].hex()
    assert [p.name for p in path.parent.iterdir()] == ["image.aei"]  # no temporary left


def test_layout_matches_the_documented_format(tmp_path: Path) -> None:
    bitstream = b"\xaa\x99\x55\x66" + os.urandom(101)
    (tmp_path / "b.bin").write_bytes(bitstream)
    path = tmp_path / "image.aei"
    write_aei(path, {"b": 1, "a": "x"}, tmp_path / "b.bin")

    data = path.read_bytes()
    magic, meta_length, bitstream_length, reserved = struct.unpack(">8s i i 64s", data[:80])
    assert magic == b"AEIv1.0\0"
    assert reserved == bytes(64)
    assert bitstream_length == len(bitstream)
    meta = data[80 : 80 + meta_length]
    assert meta.rstrip(b" ") == b'{"a": "x", "b": 1}'
    assert data[80 + meta_length : -32] == bitstream
    assert len(data) == 80 + meta_length + bitstream_length + 32


@pytest.mark.parametrize("extra", [0, 1, 2, 3])
def test_metadata_is_padded_with_spaces_to_a_multiple_of_4(tmp_path: Path, extra: int) -> None:
    metadata = {"k": "v" * extra}
    raw_length = len(json.dumps(metadata, sort_keys=True).encode())
    path = _image(tmp_path, metadata)

    meta_length = HEADER.unpack(path.read_bytes()[: HEADER.size])[1]
    assert meta_length % 4 == 0
    assert 0 <= meta_length - raw_length < 4
    assert (
        path.read_bytes()[HEADER.size + raw_length : HEADER.size + meta_length].strip(b" ") == b""
    )
    assert read_aei(path).metadata == metadata


def test_empty_bitstream_round_trips(tmp_path: Path) -> None:
    path = _image(tmp_path, size=0)
    assert read_aei(path).bitstream_length == 0
    assert read_aei_bitstream(path) == b""


@pytest.mark.parametrize(
    "where",
    ["header length", "reserved", "metadata", "bitstream", "last bitstream byte", "trailer"],
)
def test_a_corrupted_byte_is_detected(tmp_path: Path, where: str) -> None:
    path = _image(tmp_path)
    data = bytearray(path.read_bytes())
    meta_length = HEADER.unpack(bytes(data[: HEADER.size]))[1]
    offset = {
        "header length": 12,
        "reserved": 40,
        "metadata": HEADER.size + 3,
        "bitstream": HEADER.size + meta_length + 500,
        "last bitstream byte": len(data) - 33,
        "trailer": len(data) - 1,
    }[where]
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))

    with pytest.raises(AeiError, match=r"image\.aei"):
        read_aei(path)
    with pytest.raises(AeiError):
        read_aei_bitstream(path)


@pytest.mark.parametrize("keep", [0, 10, HEADER.size - 1, HEADER.size, -33, -1])
def test_a_truncated_file_is_rejected(tmp_path: Path, keep: int) -> None:
    path = _image(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    with pytest.raises(AeiError, match=r"image\.aei is \d+ bytes"):
        read_aei(path)


def test_trailing_garbage_is_rejected(tmp_path: Path) -> None:
    path = _image(tmp_path)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(AeiError, match="header says"):
        read_aei(path)


def test_wrong_magic_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "image.aei"
    path.write_bytes(_raw_image(b"{}  ", b"bits", magic=b"AEIv2.0\0"))
    with pytest.raises(AeiError, match="does not start with"):
        read_aei(path)


@pytest.mark.parametrize(
    ("meta", "reason"),
    [
        (b"{} ", "multiple of 4"),  # unpadded: 3 bytes
        (b"[1] ", "not a JSON object"),
        (b"{x} ", "not UTF-8 JSON"),
        (b"\xff\xfe  ", "not UTF-8 JSON"),
    ],
)
def test_bad_metadata_is_rejected_even_with_a_valid_digest(
    tmp_path: Path, meta: bytes, reason: str
) -> None:
    path = tmp_path / "image.aei"
    path.write_bytes(_raw_image(meta, b"bits"))
    with pytest.raises(AeiError, match=reason):
        read_aei(path)


def test_a_hand_built_valid_image_is_accepted(tmp_path: Path) -> None:
    """The reader follows the format, not just the writer: guards the tests above from passing
    because _raw_image itself is wrong."""
    path = tmp_path / "image.aei"
    path.write_bytes(_raw_image(b'{"a": 1}', b"bits"))
    assert read_aei(path).metadata == {"a": 1}
    assert read_aei_bitstream(path) == b"bits"


def test_unserialisable_metadata_writes_nothing(tmp_path: Path) -> None:
    bitstream = _bitstream(tmp_path)
    with pytest.raises(AeiError, match="JSON"):
        write_aei(tmp_path / "image.aei", {"when": object()}, bitstream)
    with pytest.raises(AeiError, match="JSON"):
        write_aei(tmp_path / "image.aei", {"x": float("nan")}, bitstream)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ul_pr_top.bin"]
