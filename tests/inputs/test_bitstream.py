"""Reading Xilinx bitstreams: the header of a `.bit`, the `.bin` beside it, and the `.xclbin` of
the FP1 kit's SDAccel flow around one.

The bytes are laid out by hand here, from the published formats, rather than with the module's
own structs, so that a test fails when the reader and the format part ways:

- a `.bit` (as Vivado's `write_bitstream` writes it, and as openFPGALoader, PYNQ and XRT read
  it): the preamble `00 09 0f f0 0f f0 0f f0 0f f0 00 00 01`; fields 'a' design, 'b' part,
  'c' date, 'd' time, each a key byte, a big-endian u16 length counting the NUL, and the
  NUL-terminated ASCII string; then 'e', a big-endian u32 length, and the configuration data to
  the end of the file;
- a `.bin` (`write_bitstream -bin_file`, UG835/UG908/UG570): that configuration data alone, in
  the same byte order;
- an `.xclbin` (`struct axlf` of the kit's xclbin.h): magic `xclbin2\\0` at 0, then little-endian
  m_length (u64) at 304, m_timeStamp (u64) at 312, m_platformVBNV[64] at 352, the 32 bytes of
  m_next_axlf and m_debug_bin at 416 (where the kit's xclbinaddaei.py writes the image id),
  m_numSections (u32) at 448, and 40-byte section headers from 456: kind u32 at +0, name[16] at
  +4, offset u64 at +24, size u64 at +32.
"""

from __future__ import annotations

import hashlib
import io
import struct
import time
import tracemalloc
from datetime import datetime
from pathlib import Path

import pytest

from afs.build.vivado.emulator.bitstream import bit_file, design_field, emulated_bitstream
from afs.devstack.samples import (
    SAMPLE_DATA_CLOCK_MHZ,
    SAMPLE_KERNEL_CLOCK_MHZ,
    SAMPLE_XCLBIN_TIMESTAMP,
    USER_TOP,
    sample_partial_bitstream,
    write_sample_xclbin,
    xclbin_file,
)
from afs.inputs.bitstream import (
    MAX_EMBEDDED_METADATA_BYTES,
    MAX_XCLBIN_SECTIONS,
    BitstreamError,
    add_image_id,
    canonical_part,
    describe,
    kernel_clocks,
    read_bit,
    read_bit_header,
    read_xclbin,
    same_part,
    split_primary,
    starts_as_bit,
    write_bin,
)
from afs.settings import VU9P_PART

PREAMBLE = bytes.fromhex("00 09 0f f0 0f f0 0f f0 0f f0 00 00 01")
# A configuration stream opens with a dummy word, the bus-width detection pattern, two more dummy
# words and the sync word (UG470, UG570); then packets: a NOOP, CMD = RCRC, IDCODE of the 7z020.
CONFIGURATION = bytes.fromhex(
    "ffffffff 000000bb 11220044 ffffffff ffffffff aa995566"
    " 20000000 30008001 00000007 30018001 03727093 20000000"
) + bytes(range(256))

SEVEN_SERIES_DESIGN = "top;UserID=0XFFFFFFFF;Version=2016.1"
SEVEN_SERIES_PART = "7z020clg400"
ZYNQMP_DESIGN = "Falcon;PARTIAL=TRUE;UserID=0XFFFFFFFF;COMPRESS=FALSE;Version=2021.1"
ZYNQMP_PART = "xczu6eg-ffvc900-1-i"

# Section kinds of the kit's xclbin.h, by number.
BITSTREAM = 0
EMBEDDED_METADATA = 2
MEM_TOPOLOGY = 6
XCLBIN_TIMESTAMP = 1514764800
PLATFORM = "huawei:vu9p:dynamic_fp1:5.0"
IMAGE_ID = "0123456789abcdef0123456789abcdef"


def text(value: str) -> bytes:
    """A header string as the .bit holds it: ASCII, NUL-terminated."""
    return value.encode("ascii") + b"\x00"


def field(key: bytes, raw: bytes, length: int | None = None) -> bytes:
    """A string field: key byte, big-endian u16 length (that of `raw` unless told), `raw`."""
    return key + struct.pack(">H", len(raw) if length is None else length) + raw


def bit_header(design: str = SEVEN_SERIES_DESIGN, part: str = SEVEN_SERIES_PART) -> bytes:
    """Everything of a .bit before its data length."""
    return (
        PREAMBLE
        + field(b"a", text(design))
        + field(b"b", text(part))
        + field(b"c", text("2016/05/12"))
        + field(b"d", text("10:31:07"))
    )


def bit(
    design: str = SEVEN_SERIES_DESIGN,
    part: str = SEVEN_SERIES_PART,
    *,
    data: bytes = CONFIGURATION,
    length: int | None = None,
) -> bytes:
    """A whole .bit: header, 'e', big-endian u32 length (that of `data` unless told), data."""
    declared = len(data) if length is None else length
    return bit_header(design, part) + b"e" + struct.pack(">I", declared) + data


def xclbin(
    sections: list[tuple[int, str, bytes]],
    *,
    length: int | None = None,
    count: int | None = None,
) -> bytes:
    """An xclbin2 laid out by the offsets of `struct axlf`, its sections' data 8-aligned after
    the section headers; `length` and `count` override m_length and m_numSections."""
    body_start = 456 + 40 * len(sections)
    table, body = bytearray(), bytearray()
    for kind, name, data in sections:
        body += bytes(-(body_start + len(body)) % 8)
        header = bytearray(40)
        struct.pack_into("<I", header, 0, kind)
        header[4 : 4 + len(name)] = name.encode("ascii")
        struct.pack_into("<QQ", header, 24, body_start + len(body), len(data))
        table += header
        body += data
    head = bytearray(456)
    head[0:8] = b"xclbin2\x00"
    total = body_start + len(body)
    struct.pack_into("<Q", head, 304, total if length is None else length)
    struct.pack_into("<Q", head, 312, XCLBIN_TIMESTAMP)
    head[352 : 352 + len(PLATFORM)] = PLATFORM.encode("ascii")
    struct.pack_into("<I", head, 448, len(sections) if count is None else count)
    return bytes(head + table + body)


def section_header(data: bytes, index: int) -> tuple[int, int, int]:
    """(kind, offset, size) of the xclbin's `index`th section, read at the documented offsets."""
    at = 456 + 40 * index
    (kind,) = struct.unpack_from("<I", data, at)
    offset, size = struct.unpack_from("<QQ", data, at + 24)
    return kind, offset, size


def patched(data: bytes, at: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, at, value)
    return bytes(out)


def metadata(
    *,
    data_clock: str | None = "250MHz",
    kernel_clock: str | None = "500MHz",
    rom_time: str | None = "1514764800",
    doctype: str = "",
) -> bytes:
    """EMBEDDED_METADATA as SDx 2017.4 writes it, cut down to what create_sdaccel_metadata.py
    reads: the platform's featureRomTime and the DATA_CLK and KERNEL_CLK frequencies."""
    rom = "" if rom_time is None else f' featureRomTime="{rom_time}"'
    clocks = "".join(
        f'<clock port="{port}" frequency="{frequency}"/>'
        for port, frequency in (("KERNEL_CLK", kernel_clock), ("DATA_CLK", data_clock))
        if frequency is not None
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}'
        f'<project name="kernel"><platform vendor="huawei" name="dynamic_fp1"{rom}>'
        '<device name="fpga0"><core name="OCL_REGION_0" type="clc_region">'
        f"<kernelClocks>{clocks}</kernelClocks></core></device></platform></project>\n"
    ).encode()


def kit_xclbin(primary: bytes, xml: bytes | None = None) -> bytes:
    """An xclbin of the kit's shape: BITSTREAM, MEM_TOPOLOGY, EMBEDDED_METADATA."""
    return xclbin(
        [
            (BITSTREAM, "primary", primary),
            (MEM_TOPOLOGY, "mem", bytes(24)),
            (EMBEDDED_METADATA, "xml", metadata() if xml is None else xml),
        ]
    )


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


class RecordingReader(io.BytesIO):
    """A file in memory that remembers how many bytes each read asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked: list[int] = []

    def read(self, size: int | None = -1, /) -> bytes:
        self.asked.append(-1 if size is None else size)
        return super().read(size)


def refused_in_bounds(read: object, path: Path, match: str) -> None:
    """`read(path)` raises BitstreamError matching `match` within a second and a megabyte."""
    assert callable(read)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(BitstreamError, match=match):
            read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 1.0
    assert peak < 1024 * 1024


# --- the header of a .bit ------------------------------------------------------------------------


def test_a_7_series_full_bitstream_header_is_read(tmp_path: Path) -> None:
    header = read_bit(write(tmp_path, "top.bit", bit()))

    assert header.design == "top"
    assert header.attributes == {"UserID": "0XFFFFFFFF", "Version": "2016.1"}
    assert header.part == "7z020clg400"
    assert header.date == "2016/05/12"
    assert header.time == "10:31:07"
    assert header.partial is False
    assert header.tool_version == "2016.1"
    assert header.user_id == "0XFFFFFFFF"


def test_the_data_offset_and_length_locate_the_configuration_data_in_the_file(
    tmp_path: Path,
) -> None:
    data = bit()
    header = read_bit(write(tmp_path, "top.bit", data))

    assert header.data_offset == len(bit_header()) + 1 + 4  # after 'e' and its u32
    assert header.data_bytes == len(CONFIGURATION)
    assert data[header.data_offset : header.data_offset + header.data_bytes] == CONFIGURATION


def test_a_zynq_ultrascale_partial_bitstream_header_is_read(tmp_path: Path) -> None:
    header = read_bit(write(tmp_path, "falcon.bit", bit(ZYNQMP_DESIGN, ZYNQMP_PART)))

    assert header.design == "Falcon"
    assert header.part == "xczu6eg-ffvc900-1-i"
    assert header.partial is True
    assert header.tool_version == "2021.1"
    assert header.user_id == "0XFFFFFFFF"
    assert header.attributes["COMPRESS"] == "FALSE"


def test_a_design_field_with_no_attributes_is_a_full_bitstream_of_no_known_version(
    tmp_path: Path,
) -> None:
    header = read_bit(write(tmp_path, "top.bit", bit("top")))

    assert header.design == "top"
    assert header.partial is False
    assert header.tool_version is None
    assert header.user_id is None


def test_a_design_field_saying_partial_false_is_a_full_bitstream(tmp_path: Path) -> None:
    design = "top;PARTIAL=FALSE;UserID=0XFFFFFFFF;Version=2017.2"

    header = read_bit(write(tmp_path, "top.bit", bit(design)))

    assert header.partial is False
    assert header.attributes["PARTIAL"] == "FALSE"


def test_the_sample_partial_bitstream_is_a_partial_for_the_vu9p(tmp_path: Path) -> None:
    header = read_bit(write(tmp_path, "sample.bit", sample_partial_bitstream()))

    assert header.design == USER_TOP
    assert header.partial is True
    assert same_part(header.part, VU9P_PART)
    assert header.tool_version == "2017.4.op"


def test_a_bit_file_is_known_by_its_preamble_not_its_name(tmp_path: Path) -> None:
    assert starts_as_bit(write(tmp_path, "design.dat", bit()))
    assert read_bit(tmp_path / "design.dat").design == "top"
    assert not starts_as_bit(write(tmp_path, "design.bit", kit_xclbin(bit())))
    assert not starts_as_bit(write(tmp_path, "empty.bit", b""))


def test_the_header_is_read_where_the_bit_starts_inside_a_larger_file() -> None:
    before = b"\x5a" * 100
    stream = io.BytesIO(before + bit() + b"\x5a" * 50)

    header = read_bit_header(stream, len(bit()), "inner.bit", start=len(before))

    assert header.design == "top"
    assert header.data_offset == len(bit_header()) + 5  # from the start of the .bit
    assert header.data_bytes == len(CONFIGURATION)


# --- .bit files refused --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"PK\x03\x04 a zip, not a bitstream",
        CONFIGURATION,  # a .bin: the data without its header
        PREAMBLE[:-1],
    ],
    ids=["empty", "zip", "bin", "short-preamble"],
)
def test_a_file_without_the_bit_preamble_is_not_a_bit_file(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(BitstreamError, match=r"design\.bit is not a Xilinx bitstream"):
        read_bit(write(tmp_path, "design.bit", data))


def test_a_bit_file_that_ends_inside_a_field_length_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "cut.bit", PREAMBLE + b"a\x00")

    with pytest.raises(BitstreamError, match=r"cut\.bit ends inside its design field"):
        read_bit(path)


def test_a_bit_file_that_ends_inside_a_field_string_is_refused(tmp_path: Path) -> None:
    whole = bit_header()
    cut_in_part = len(PREAMBLE) + 3 + len(text(SEVEN_SERIES_DESIGN)) + 3 + 4
    path = write(tmp_path, "cut.bit", whole[:cut_in_part])

    with pytest.raises(BitstreamError, match=r"cut\.bit.*part field") as raised:
        read_bit(path)
    assert "design" not in str(raised.value)


def test_a_bit_file_that_ends_after_its_header_strings_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BitstreamError, match=r"cut\.bit ends inside its data field"):
        read_bit(write(tmp_path, "cut.bit", bit_header()))
    with pytest.raises(BitstreamError, match=r"cut\.bit ends inside its data length"):
        read_bit(write(tmp_path, "cut.bit", bit_header() + b"e\x00\x00"))


def test_a_field_length_larger_than_the_file_is_refused(tmp_path: Path) -> None:
    data = PREAMBLE + field(b"a", text("top"), length=0xFFFF) + b"\x00" * 64

    with pytest.raises(BitstreamError, match=r"big\.bit: its design field says 65535 bytes"):
        read_bit(write(tmp_path, "big.bit", data))


def test_a_part_field_longer_than_what_is_left_of_the_file_is_refused(tmp_path: Path) -> None:
    data = PREAMBLE + field(b"a", text("top")) + field(b"b", text("xc7z020"), length=200)

    with pytest.raises(BitstreamError, match=r"big\.bit: its part field says 200 bytes"):
        read_bit(write(tmp_path, "big.bit", data))


def test_an_empty_field_without_even_its_nul_is_refused(tmp_path: Path) -> None:
    data = PREAMBLE + field(b"a", b"") + field(b"b", text(SEVEN_SERIES_PART)) + bytes(64)

    with pytest.raises(BitstreamError, match=r"empty\.bit: its design field says 0 bytes"):
        read_bit(write(tmp_path, "empty.bit", data))


def test_a_field_not_nul_terminated_is_refused(tmp_path: Path) -> None:
    data = PREAMBLE + field(b"a", b"top;Version=2016.1x") + field(b"b", text("7z020clg400"))

    with pytest.raises(BitstreamError, match=r"nonul\.bit: its design field is not NUL-terminated"):
        read_bit(write(tmp_path, "nonul.bit", data + b"\x00" * 64))


def test_a_field_that_is_not_ascii_is_refused(tmp_path: Path) -> None:
    part = "7z020clg400\u00e9".encode("latin-1") + b"\x00"  # a Latin-1 e-acute, one byte
    data = PREAMBLE + field(b"a", text("top")) + field(b"b", part) + bytes(64)

    with pytest.raises(BitstreamError, match=r"latin\.bit: its part field is not ASCII"):
        read_bit(write(tmp_path, "latin.bit", data))


def test_a_field_holding_a_control_character_is_refused(tmp_path: Path) -> None:
    data = bit().replace(text("10:31:07"), text("10:31\n07"))

    with pytest.raises(BitstreamError, match=r"ctrl\.bit: its time field has a control character"):
        read_bit(write(tmp_path, "ctrl.bit", data))


def test_fields_out_of_their_order_are_refused(tmp_path: Path) -> None:
    data = PREAMBLE + field(b"b", text(SEVEN_SERIES_PART)) + field(b"a", text("top"))

    with pytest.raises(BitstreamError, match=r"order\.bit: expected the design field \('a'\)"):
        read_bit(write(tmp_path, "order.bit", data + b"\x00" * 64))


def test_a_header_without_the_data_field_after_the_time_is_refused(tmp_path: Path) -> None:
    data = bit_header() + b"f" + struct.pack(">I", len(CONFIGURATION)) + CONFIGURATION

    with pytest.raises(BitstreamError, match=r"nodata\.bit: expected the data field \('e'\)"):
        read_bit(write(tmp_path, "nodata.bit", data))


@pytest.mark.parametrize("difference", [1, 4, -1, -4], ids=["+1", "+4", "-1", "-4"])
def test_a_bit_file_whose_data_length_disagrees_with_its_size_is_refused(
    tmp_path: Path, difference: int
) -> None:
    declared = len(CONFIGURATION) + difference
    path = write(tmp_path, "length.bit", bit(length=declared))

    with pytest.raises(
        BitstreamError,
        match=rf"length\.bit: its header says {declared} bytes of configuration data, "
        rf"the file holds {len(CONFIGURATION)}",
    ):
        read_bit(path)


def test_a_data_length_of_four_gigabytes_is_refused_without_reading_it(tmp_path: Path) -> None:
    data = bit(length=2**32 - 1)

    refused_in_bounds(read_bit, write(tmp_path, "huge.bit", data), match="says 4294967295 bytes")
    stream = RecordingReader(data)
    with pytest.raises(BitstreamError, match="4294967295"):
        read_bit_header(stream, len(data), "huge.bit")
    assert stream.asked
    assert all(0 <= asked <= 1024 for asked in stream.asked), stream.asked


def test_configuration_data_without_the_sync_word_is_refused(tmp_path: Path) -> None:
    data = bit(data=CONFIGURATION.replace(bytes.fromhex("aa995566"), bytes.fromhex("aa995567")))

    with pytest.raises(BitstreamError, match=r"nosync\.bit: .*no sync word \(AA995566\)"):
        read_bit(write(tmp_path, "nosync.bit", data))


def test_configuration_data_with_the_sync_word_byte_swapped_is_refused(tmp_path: Path) -> None:
    # A .bin swapped to the bit order of the SelectMAP (the -bin_file of some tools) is not ours.
    swapped = b"".join(CONFIGURATION[at : at + 4][::-1] for at in range(0, len(CONFIGURATION), 4))

    with pytest.raises(BitstreamError, match="no sync word"):
        read_bit(write(tmp_path, "swapped.bit", bit(data=swapped)))


def test_a_bit_file_that_cannot_be_opened_is_a_bitstream_error(tmp_path: Path) -> None:
    with pytest.raises(BitstreamError, match=r"missing\.bit cannot be read"):
        read_bit(tmp_path / "missing.bit")


# --- parts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("xcvu9p-flgb2104-2-i", "vu9pflgb2104"),
        ("7z020clg400", "xc7z020clg400-1"),
        ("xcvu9p-flgb2104-2-i", "xcvu9p-flgb2104-2-i"),
    ],
)
def test_a_part_written_short_or_in_full_is_the_same_part(first: str, second: str) -> None:
    assert canonical_part(first) == canonical_part(second)
    assert same_part(first, second)
    assert same_part(second, first)


def test_the_canonical_part_is_the_device_and_package_without_xc() -> None:
    assert canonical_part("xcvu9p-flgb2104-2-i") == "vu9pflgb2104"
    assert canonical_part("xczu6eg-ffvc900-1-i") == "zu6egffvc900"
    assert canonical_part("7z020clg400") == "7z020clg400"


def test_the_canonical_7_series_part_drops_the_speed_grade() -> None:
    assert canonical_part("xc7z020clg400-1") == "7z020clg400"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("xcvu9p-flgb2104-2-i", "xcku115-flvb2104-2-e"),
        ("xcvu9p-flgb2104-2-i", "xcvu9p-flga2104-2-i"),  # another package
        ("7z020clg400", "7z010clg400"),
    ],
)
def test_different_devices_or_packages_are_different_parts(first: str, second: str) -> None:
    assert not same_part(first, second)


# --- .bin ----------------------------------------------------------------------------------------


def test_the_bin_is_the_configuration_data_without_the_header_byte_for_byte(
    tmp_path: Path,
) -> None:
    bin_path = tmp_path / "top.bin"

    header = write_bin(write(tmp_path, "top.bit", bit()), bin_path)

    assert bin_path.read_bytes() == CONFIGURATION
    assert header.design == "top"
    assert header.data_bytes == len(CONFIGURATION)


def test_the_bin_keeps_the_byte_order_of_every_word(tmp_path: Path) -> None:
    bin_path = tmp_path / "top.bin"
    write_bin(write(tmp_path, "top.bit", bit()), bin_path)
    written = bin_path.read_bytes()

    # The bus-width pattern and the sync word read as the configuration guides print them.
    assert written[4:12] == bytes.fromhex("000000bb11220044")
    assert written[20:24] == bytes.fromhex("aa995566")
    assert written[-256:] == bytes(range(256))
    assert bytes.fromhex("bb000000") not in written[:24]


def test_the_bin_of_a_bit_written_by_the_emulator_is_the_stream_it_wraps(tmp_path: Path) -> None:
    stream = emulated_bitstream("a user design", frames=3)
    design = design_field("top", partial=True, compress=False, version="2017.2", marks={})
    data = bit_file(design, VU9P_PART, stream, datetime(2018, 1, 1, 12, 0, 0))
    bin_path = tmp_path / "top.bin"

    header = write_bin(write(tmp_path, "top.bit", data), bin_path)

    assert bin_path.read_bytes() == stream
    assert header.partial is True
    assert header.tool_version == "2017.2"


def test_the_bin_of_a_malformed_bit_is_not_written(tmp_path: Path) -> None:
    bin_path = tmp_path / "top.bin"

    with pytest.raises(BitstreamError, match="configuration data"):
        write_bin(write(tmp_path, "top.bit", bit(length=len(CONFIGURATION) + 1)), bin_path)
    assert list(tmp_path.iterdir()) == [tmp_path / "top.bit"]


# --- xclbin --------------------------------------------------------------------------------------


def test_an_xclbin_header_and_section_table_are_read(tmp_path: Path) -> None:
    data = kit_xclbin(b"PK\x03\x04 a checkpoint")

    info = read_xclbin(write(tmp_path, "kernel.xclbin", data))

    assert info.timestamp == XCLBIN_TIMESTAMP
    assert info.platform == PLATFORM
    assert [(s.kind, s.kind_name, s.name) for s in info.sections] == [
        (0, "BITSTREAM", "primary"),
        (6, "MEM_TOPOLOGY", "mem"),
        (2, "EMBEDDED_METADATA", "xml"),
    ]
    assert [(s.offset, s.size) for s in info.sections] == [
        section_header(data, index)[1:] for index in range(3)
    ]
    assert info.primary == info.sections[0]


def test_an_xclbin_holding_a_bit_gives_its_header_with_offsets_from_the_xclbin_start(
    tmp_path: Path,
) -> None:
    data = kit_xclbin(bit(ZYNQMP_DESIGN, ZYNQMP_PART))

    info = read_xclbin(write(tmp_path, "kernel.xclbin", data))

    assert info.bitstream is not None
    assert info.bitstream.design == "Falcon"
    assert info.bitstream.partial is True
    assert info.bitstream.data_bytes == len(CONFIGURATION)
    start = info.bitstream.data_offset
    assert start > section_header(data, 0)[1]
    assert data[start : start + info.bitstream.data_bytes] == CONFIGURATION


def test_an_xclbin_holding_a_checkpoint_has_no_bitstream_header(tmp_path: Path) -> None:
    path = write_sample_xclbin(tmp_path / "sample.xclbin")
    data = path.read_bytes()

    info = read_xclbin(path)

    assert info.bitstream is None
    assert info.primary.kind_name == "BITSTREAM"
    kind, offset, size = section_header(data, 0)
    assert (kind, info.primary.offset, info.primary.size) == (BITSTREAM, offset, size)
    assert data[offset : offset + 4] == b"PK\x03\x04"


def test_the_sample_xclbin_with_a_partial_bitstream_holds_that_bitstream(tmp_path: Path) -> None:
    path = write_sample_xclbin(tmp_path / "sample.xclbin", primary=sample_partial_bitstream())

    info = read_xclbin(path)

    assert info.bitstream is not None
    assert info.bitstream.partial is True
    assert same_part(info.bitstream.part, VU9P_PART)


def test_a_file_without_the_xclbin_magic_is_not_an_xclbin(tmp_path: Path) -> None:
    with pytest.raises(BitstreamError, match=r"top\.xclbin is not an xclbin"):
        read_xclbin(write(tmp_path, "top.xclbin", bit()))
    with pytest.raises(BitstreamError, match=r"old\.xclbin is not an xclbin"):
        read_xclbin(write(tmp_path, "old.xclbin", b"xclbin0\x00" + bytes(600)))


def test_an_xclbin_that_ends_inside_its_header_is_refused(tmp_path: Path) -> None:
    data = kit_xclbin(bit())[:455]

    with pytest.raises(BitstreamError, match=r"short\.xclbin ends inside its xclbin header"):
        read_xclbin(write(tmp_path, "short.xclbin", data))


@pytest.mark.parametrize("difference", [1, -1, 4096])
def test_an_xclbin_whose_m_length_is_not_its_size_is_refused(
    tmp_path: Path, difference: int
) -> None:
    size = len(kit_xclbin(bit()))
    data = patched(kit_xclbin(bit()), 304, "<Q", size + difference)

    with pytest.raises(
        BitstreamError,
        match=rf"length\.xclbin: its header says {size + difference} bytes, the file has {size}",
    ):
        read_xclbin(write(tmp_path, "length.xclbin", data))


def test_an_xclbin_m_length_of_2_to_the_64_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    data = patched(kit_xclbin(bit()), 304, "<Q", 2**64 - 1)

    refused_in_bounds(
        read_xclbin, write(tmp_path, "huge.xclbin", data), match="says 18446744073709551615 bytes"
    )


def test_an_xclbin_with_no_sections_is_refused(tmp_path: Path) -> None:
    data = xclbin([(BITSTREAM, "primary", bit())], count=0)

    with pytest.raises(BitstreamError, match=r"none\.xclbin: its header says 0 sections"):
        read_xclbin(write(tmp_path, "none.xclbin", data))


@pytest.mark.parametrize("count", [MAX_XCLBIN_SECTIONS + 1, 2**32 - 1])
def test_an_xclbin_with_more_sections_than_the_limit_is_refused(tmp_path: Path, count: int) -> None:
    # Even when the file is big enough to hold that many section headers.
    data = xclbin([(BITSTREAM, "primary", bit())], count=count)
    data += bytes(40 * (MAX_XCLBIN_SECTIONS + 1))
    data = patched(data, 304, "<Q", len(data))

    refused_in_bounds(
        read_xclbin, write(tmp_path, "many.xclbin", data), match=f"says {count} sections"
    )


def test_an_xclbin_whose_section_table_runs_past_its_end_is_refused(tmp_path: Path) -> None:
    data = kit_xclbin(b"PK\x03\x04")
    assert len(data) < 456 + 40 * 40
    data = patched(data, 448, "<I", 40)

    with pytest.raises(
        BitstreamError, match=r"table\.xclbin: its 40 section headers run past the end"
    ):
        read_xclbin(write(tmp_path, "table.xclbin", data))


def test_a_section_whose_offset_and_size_pass_the_end_of_the_file_is_refused(
    tmp_path: Path,
) -> None:
    data = kit_xclbin(bit())
    _, offset, _ = section_header(data, 2)  # the metadata, last in the file
    data = patched(data, 456 + 2 * 40 + 32, "<Q", len(data) - offset + 1)

    with pytest.raises(
        BitstreamError,
        match=rf"past\.xclbin: section EMBEDDED_METADATA says {len(data) - offset + 1} bytes "
        rf"at offset {offset}, past the end of the file \({len(data)} bytes\)",
    ):
        read_xclbin(write(tmp_path, "past.xclbin", data))


@pytest.mark.parametrize(
    ("at", "value"),
    [(24, 2**64 - 1), (32, 2**64 - 1), (24, 2**63), (32, 2**32 - 1)],
    ids=["offset-2**64-1", "size-2**64-1", "offset-2**63", "size-2**32-1"],
)
def test_a_section_with_a_huge_offset_or_size_is_refused_in_bounded_memory(
    tmp_path: Path, at: int, value: int
) -> None:
    data = patched(kit_xclbin(bit()), 456 + at, "<Q", value)

    refused_in_bounds(
        read_xclbin, write(tmp_path, "huge.xclbin", data), match=f"section BITSTREAM .*{value}"
    )


def test_an_xclbin_without_a_bitstream_section_is_refused(tmp_path: Path) -> None:
    data = xclbin([(EMBEDDED_METADATA, "xml", metadata())])

    with pytest.raises(BitstreamError, match=r"nobit\.xclbin has 0 BITSTREAM sections"):
        read_xclbin(write(tmp_path, "nobit.xclbin", data))


def test_an_xclbin_with_two_bitstream_sections_is_refused(tmp_path: Path) -> None:
    data = xclbin([(BITSTREAM, "primary", bit()), (BITSTREAM, "secondary", bit())])

    with pytest.raises(BitstreamError, match=r"twobit\.xclbin has 2 BITSTREAM sections"):
        read_xclbin(write(tmp_path, "twobit.xclbin", data))


def test_a_bit_in_an_xclbin_is_measured_against_its_section_not_the_file(tmp_path: Path) -> None:
    # The BITSTREAM section is 4 bytes shorter than the .bit it opens; the metadata follows.
    data = kit_xclbin(bit())
    _, _, size = section_header(data, 0)
    data = patched(data, 456 + 32, "<Q", size - 4)

    with pytest.raises(
        BitstreamError,
        match=rf"cut\.xclbin's BITSTREAM section: its header says {len(CONFIGURATION)} bytes",
    ):
        read_xclbin(write(tmp_path, "cut.xclbin", data))


def test_a_malformed_bit_in_an_xclbin_is_refused_naming_the_section(tmp_path: Path) -> None:
    data = kit_xclbin(bit(data=CONFIGURATION.replace(bytes.fromhex("aa995566"), bytes(4))))

    with pytest.raises(BitstreamError, match=r"bad\.xclbin's BITSTREAM section: .*no sync word"):
        read_xclbin(write(tmp_path, "bad.xclbin", data))


def test_an_xclbin_that_cannot_be_opened_is_a_bitstream_error(tmp_path: Path) -> None:
    with pytest.raises(BitstreamError, match=r"missing\.xclbin cannot be read"):
        read_xclbin(tmp_path / "missing.xclbin")


# --- split_primary -------------------------------------------------------------------------------


def test_split_primary_writes_exactly_the_bitstream_section(tmp_path: Path) -> None:
    primary = b"PK\x03\x04" + bytes(range(256)) * 3 + b"end of the checkpoint"
    destination = tmp_path / "split-primary.bit"

    info = split_primary(write(tmp_path, "kernel.xclbin", kit_xclbin(primary)), destination)

    assert destination.read_bytes() == primary
    assert info.primary.size == len(primary)


def test_split_primary_of_the_sample_xclbin_is_its_checkpoint_as_it_lies_in_the_file(
    tmp_path: Path,
) -> None:
    path = write_sample_xclbin(tmp_path / "sample.xclbin")
    data = path.read_bytes()
    _, offset, size = section_header(data, 0)
    destination = tmp_path / "split-primary.bit"

    split_primary(path, destination)

    assert destination.read_bytes() == data[offset : offset + size]


def test_split_primary_of_an_xclbin_holding_a_bit_writes_the_bit_header_included(
    tmp_path: Path,
) -> None:
    destination = tmp_path / "split-primary.bit"

    split_primary(write(tmp_path, "kernel.xclbin", kit_xclbin(bit())), destination)

    assert destination.read_bytes() == bit()


def test_split_primary_of_a_malformed_xclbin_writes_nothing(tmp_path: Path) -> None:
    data = patched(kit_xclbin(bit()), 304, "<Q", 1)
    destination = tmp_path / "out" / "split-primary.bit"

    with pytest.raises(BitstreamError, match="its header says 1 bytes"):
        split_primary(write(tmp_path, "bad.xclbin", data), destination)
    assert not destination.exists()


# --- kernel clocks -------------------------------------------------------------------------------


def test_kernel_clocks_are_read_from_the_embedded_metadata(tmp_path: Path) -> None:
    xml = metadata(data_clock="300MHz", kernel_clock="150MHz", rom_time="1520000000")
    path = write(tmp_path, "kernel.xclbin", kit_xclbin(bit(), xml))

    clocks = kernel_clocks(path, read_xclbin(path))

    assert clocks.xclbin_timestamp == "1520000000"
    assert clocks.clock_freq == "300"
    assert clocks.clock_freq2 == "150"


def test_the_sample_xclbins_clocks_are_those_it_was_written_with(tmp_path: Path) -> None:
    path = write_sample_xclbin(tmp_path / "sample.xclbin")

    clocks = kernel_clocks(path, read_xclbin(path))

    assert clocks.xclbin_timestamp == str(SAMPLE_XCLBIN_TIMESTAMP)
    assert clocks.clock_freq == str(SAMPLE_DATA_CLOCK_MHZ)
    assert clocks.clock_freq2 == str(SAMPLE_KERNEL_CLOCK_MHZ)


def test_kernel_clocks_of_an_xclbin_written_with_other_clocks(tmp_path: Path) -> None:
    data = xclbin_file(bit(), timestamp=1530000000, data_mhz=200, kernel_mhz=400)
    path = write(tmp_path, "kernel.xclbin", data)

    clocks = kernel_clocks(path, read_xclbin(path))

    assert (clocks.xclbin_timestamp, clocks.clock_freq, clocks.clock_freq2) == (
        "1530000000",
        "200",
        "400",
    )


def test_metadata_padded_with_nuls_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "kernel.xclbin", kit_xclbin(bit(), metadata() + bytes(13)))

    assert kernel_clocks(path, read_xclbin(path)).clock_freq == "250"


def test_metadata_declaring_a_dtd_is_refused(tmp_path: Path) -> None:
    doctype = '<!DOCTYPE project [<!ENTITY mhz "250MHz">]>\n'
    xml = metadata(data_clock="&mhz;", doctype=doctype)
    path = write(tmp_path, "dtd.xclbin", kit_xclbin(bit(), xml))

    with pytest.raises(BitstreamError, match=r"dtd\.xclbin: .*DTD"):
        kernel_clocks(path, read_xclbin(path))


def test_metadata_without_a_data_clock_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "noclk.xclbin", kit_xclbin(bit(), metadata(data_clock=None)))

    with pytest.raises(BitstreamError, match=r"noclk\.xclbin.*no DATA_CLK frequency"):
        kernel_clocks(path, read_xclbin(path))


def test_metadata_without_a_kernel_clock_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "noclk.xclbin", kit_xclbin(bit(), metadata(kernel_clock=None)))

    with pytest.raises(BitstreamError, match=r"noclk\.xclbin.*no KERNEL_CLK frequency"):
        kernel_clocks(path, read_xclbin(path))


@pytest.mark.parametrize("frequency", ["250kHz", "0.25GHz", "fast", "250.5MHz", "-250MHz", ""])
def test_a_clock_frequency_that_is_not_whole_mhz_is_refused(tmp_path: Path, frequency: str) -> None:
    path = write(tmp_path, "freq.xclbin", kit_xclbin(bit(), metadata(data_clock=frequency)))

    with pytest.raises(
        BitstreamError, match=rf"freq\.xclbin.*DATA_CLK frequency in MHz \(found '{frequency}'\)"
    ):
        kernel_clocks(path, read_xclbin(path))


def test_metadata_without_a_feature_rom_time_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "norom.xclbin", kit_xclbin(bit(), metadata(rom_time=None)))

    with pytest.raises(BitstreamError, match=r"norom\.xclbin.*no featureRomTime"):
        kernel_clocks(path, read_xclbin(path))


def test_metadata_that_is_not_xml_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.xclbin", kit_xclbin(bit(), b"<project><platform>"))

    with pytest.raises(BitstreamError, match=r"broken\.xclbin"):
        kernel_clocks(path, read_xclbin(path))


def test_an_xclbin_without_embedded_metadata_has_no_clocks_to_read(tmp_path: Path) -> None:
    path = write(tmp_path, "nometa.xclbin", xclbin([(BITSTREAM, "primary", bit())]))

    with pytest.raises(BitstreamError, match=r"nometa\.xclbin has no embedded metadata"):
        kernel_clocks(path, read_xclbin(path))


def test_embedded_metadata_larger_than_the_limit_is_not_read(tmp_path: Path) -> None:
    xml = metadata() + b" " * MAX_EMBEDDED_METADATA_BYTES
    path = write(tmp_path, "bigmeta.xclbin", kit_xclbin(bit(), xml))

    with pytest.raises(BitstreamError, match=rf"at most {MAX_EMBEDDED_METADATA_BYTES} bytes"):
        kernel_clocks(path, read_xclbin(path))


# --- describe ------------------------------------------------------------------------------------


def test_a_bit_file_is_described_as_a_bit(tmp_path: Path) -> None:
    data = bit(ZYNQMP_DESIGN, ZYNQMP_PART)

    info = describe(write(tmp_path, "falcon.bit", data))

    assert info.kind == "bit"
    assert info.design == "Falcon"
    assert info.part == ZYNQMP_PART
    assert info.tool_version == "2021.1"
    assert info.partial is True
    assert info.data_bytes == len(CONFIGURATION)
    assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_an_xclbin_holding_a_bitstream_is_described_as_an_xclbin(tmp_path: Path) -> None:
    data = kit_xclbin(bit())

    info = describe(write(tmp_path, "kernel.xclbin", data))

    assert info.kind == "xclbin"
    assert info.design == "top"
    assert info.part == SEVEN_SERIES_PART
    assert info.partial is False
    assert info.data_bytes == len(CONFIGURATION)
    assert info.sha256 == hashlib.sha256(data).hexdigest()  # the whole file, not its bitstream


def test_a_file_is_described_by_its_content_not_its_name(tmp_path: Path) -> None:
    assert describe(write(tmp_path, "really-a-bit.xclbin", bit())).kind == "bit"
    assert describe(write(tmp_path, "really-an-xclbin.bit", kit_xclbin(bit()))).kind == "xclbin"


def test_an_xclbin_holding_a_checkpoint_is_not_described_but_explained(tmp_path: Path) -> None:
    path = write_sample_xclbin(tmp_path / "sample.xclbin")

    with pytest.raises(BitstreamError, match=r"sample\.xclbin.*acceleratorBinaryContent=dcp"):
        describe(path)


def test_describing_neither_a_bit_nor_an_xclbin_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BitstreamError, match=r"notes\.txt is not a Xilinx bitstream"):
        describe(write(tmp_path, "notes.txt", b"hello, world\n"))
    with pytest.raises(BitstreamError, match=r"missing\.bit"):
        describe(tmp_path / "missing.bit")


# --- add_image_id --------------------------------------------------------------------------------


def test_the_image_id_is_written_at_byte_416_and_nothing_else_changes(tmp_path: Path) -> None:
    original = kit_xclbin(bit())
    path = write(tmp_path, "kernel.xclbin", original)

    add_image_id(path, IMAGE_ID)

    written = path.read_bytes()
    assert len(written) == len(original)
    assert written[416:448] == IMAGE_ID.encode("ascii")
    assert written[:416] == original[:416]
    assert written[448:] == original[448:]
    assert read_xclbin(path).bitstream is not None  # still an xclbin, its bitstream unmoved


def test_a_second_image_id_replaces_the_first(tmp_path: Path) -> None:
    path = write_sample_xclbin(tmp_path / "sample.xclbin")
    original = path.read_bytes()

    add_image_id(path, IMAGE_ID)
    add_image_id(path, "f" * 32)

    written = path.read_bytes()
    assert written[416:448] == b"f" * 32
    assert written[:416] + written[448:] == original[:416] + original[448:]


@pytest.mark.parametrize(
    "image_id",
    [
        IMAGE_ID.upper(),
        IMAGE_ID[:-1],
        IMAGE_ID + "0",
        IMAGE_ID[:-1] + "g",
        IMAGE_ID + "\n",
        "",
        "0x0123456789abcdef0123456789abcd",
        "0123456789abcdef0123456789abcd\u0661\u0662",  # digits, but not ASCII ones
    ],
)
def test_an_image_id_that_is_not_32_lowercase_hex_digits_is_refused(
    tmp_path: Path, image_id: str
) -> None:
    original = kit_xclbin(bit())
    path = write(tmp_path, "kernel.xclbin", original)

    with pytest.raises(BitstreamError, match="not 32 lowercase hexadecimal digits"):
        add_image_id(path, image_id)
    assert path.read_bytes() == original


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (bit(), "is not an xclbin"),
        (patched(kit_xclbin(bit()), 304, "<Q", 10), "its header says 10 bytes"),
        (xclbin([(EMBEDDED_METADATA, "xml", metadata())]), "0 BITSTREAM sections"),
        (b"xclbin2\x00" + bytes(100), "ends inside its xclbin header"),
    ],
    ids=["bit", "length", "no-bitstream", "short"],
)
def test_an_image_id_is_not_written_into_a_file_that_is_not_a_valid_xclbin(
    tmp_path: Path, data: bytes, match: str
) -> None:
    path = write(tmp_path, "kernel.xclbin", data)

    with pytest.raises(BitstreamError, match=match):
        add_image_id(path, IMAGE_ID)
    assert path.read_bytes() == data
