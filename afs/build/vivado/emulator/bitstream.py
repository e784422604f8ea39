"""Xilinx .bit files: the header Vivado writes (format in afs.inputs.bitstream), around an
emulated (non-functional) bitstream; the .bin file as `write_bitstream -bin_file` writes it.
"""

from __future__ import annotations

import hashlib
import struct
from datetime import datetime
from pathlib import Path

from afs.inputs.bitstream import BIT_PREAMBLE, IDCODE_WRITE, SYNC_WORD, write_bin

# Dummy pad words, the bus-width detection pattern, then sync, as a real configuration stream opens.
_STREAM_HEAD = b"\xff" * 64 + bytes.fromhex("000000bb11220044ffffffffffffffff") + SYNC_WORD
_NOOP = bytes.fromhex("20000000")
_DESYNC = bytes.fromhex("300080010000000d")


def _field(key: bytes, value: str) -> bytes:
    data = value.encode("ascii", errors="replace") + b"\x00"
    return key + struct.pack(">H", len(data)) + data


def emulated_bitstream(seed: str, *, frames: int, idcode: int | None = None) -> bytes:
    """A configuration stream: sync word, the device's IDCODE (when known), `frames` frames of
    deterministic filler, desync."""
    body = hashlib.shake_256(seed.encode()).digest(frames * 93 * 4)  # UltraScale+: 93 words/frame
    device = b"" if idcode is None else IDCODE_WRITE + struct.pack(">I", idcode)
    return _STREAM_HEAD + _NOOP * 2 + device + _NOOP + body + _DESYNC + _NOOP * 4


def design_field(
    design: str, *, partial: bool, compress: bool, version: str, marks: dict[str, str]
) -> str:
    """The `a` field as Vivado writes it (`top;PARTIAL=TRUE;UserID=0XFFFFFFFF;COMPRESS=TRUE;
    Version=2017.2`), then `marks` that say what wrote it when Vivado did not."""
    fields = [design, *(["PARTIAL=TRUE"] if partial else []), "UserID=0XFFFFFFFF"]
    fields += [f"COMPRESS={str(compress).upper()}", f"Version={version}"]
    return ";".join(fields + [f"{key}={value}" for key, value in marks.items()])


def bit_file(design: str, part: str, bitstream: bytes, when: datetime) -> bytes:
    return (
        BIT_PREAMBLE
        + _field(b"a", design)
        + _field(b"b", part)
        + _field(b"c", when.strftime("%Y/%m/%d"))
        + _field(b"d", when.strftime("%H:%M:%S"))
        + b"e"
        + struct.pack(">I", len(bitstream))
        + bitstream
    )


def write_bitstream_files(
    bit_path: Path, bin_path: Path | None, *, design: str, part: str, bitstream: bytes
) -> None:
    bit_path.write_bytes(bit_file(design, part, bitstream, datetime.now()))
    if bin_path is not None:
        write_bin(bit_path, bin_path)  # the rule of `write_bitstream -bin_file`
