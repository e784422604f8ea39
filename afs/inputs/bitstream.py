"""Reading Xilinx bitstreams: a `.bit` file's header, and the `.xclbin` container around one.

A `.bit` file (the layout Vivado's `write_bitstream` writes; read the same way by open-source
loaders such as openFPGALoader, PYNQ and XRT's own header parser):

    00 09 0f f0 0f f0 0f f0 0f f0 00 00 01      preamble (a 9-byte field, then a u16 of 1)
    'a' u16 n, n bytes                        design: `top;UserID=0XFFFFFFFF;Version=2017.2`,
                                              partial ones with `PARTIAL=TRUE`, NUL-terminated
    'b' u16 n, n bytes                        part: `7z020clg400` or `xcvu9p-flgb2104-2-i`
    'c' u16 n, n bytes                        date `YYYY/MM/DD`
    'd' u16 n, n bytes                        time `HH:MM:SS`
    'e' u32 n, n bytes                        the configuration data (what `-bin_file` writes)

all lengths big-endian, string lengths counting the NUL. A `.bin` file is the configuration
data alone, byte for byte: no header, no swapping.

An `.xclbin` (SDAccel 2017.4, magic `xclbin2`) is the `axlf` struct of the kit's `xclbin.h`: a
fixed header of 456 bytes, then `m_numSections` section headers of 40 bytes, each naming a kind,
an offset and a size; the BITSTREAM section is the `.bit` file above, header included (what
`xclbinsplit` writes to `split-primary.bit`).

Every length is checked against the file before anything is read by it; a malformed file is a
BitstreamError naming what is wrong.
"""

from __future__ import annotations

import re
import shutil
import struct
from pathlib import Path
from typing import BinaryIO, Literal
from xml.etree import ElementTree

from pydantic import BaseModel

from afs.errors import AfsError
from afs.files import atomic_write, file_sha256
from afs.inputs.dcp import DcpError, check_xml_structure
from afs.models import IMAGE_ID_PATTERN

BIT_PREAMBLE = bytes.fromhex("00090ff00ff00ff00ff0000001")
SYNC_WORD = bytes.fromhex("aa995566")
BIT_SUFFIX = ".bit"
BIN_SUFFIX = ".bin"
XCLBIN_SUFFIX = ".xclbin"
# Real design fields are a few dozen characters; parts, dates and times fewer.
MAX_FIELD_BYTES = 1024
_STRING_FIELDS = {b"a": "design", b"b": "part", b"c": "date", b"d": "time"}
_CHUNK = 1 << 20

XCLBIN_MAGIC = b"xclbin2\x00"
# struct axlf: m_magic[8], m_cipher[32] (later m_signature_length + reserved), m_keyBlock[256],
# m_uniqueId u64, then the axlf_header at 304: m_length, m_timeStamp, m_featureRomTimeStamp
# (u64 each), m_versionPatch u16, m_versionMajor u8, m_versionMinor u8, m_mode u32, m_platformId
# and m_featureId (u64 each), m_platformVBNV[64], m_next_axlf[16], m_debug_bin[16],
# m_numSections u32 (then 4 bytes of padding to the 8-aligned section headers).
XCLBIN_HEADER = struct.Struct("<8s32s256sQ QQQ HBBI QQ 64s16s16sI4x")
XCLBIN_HEADER_BYTES = XCLBIN_HEADER.size  # 456
# axlf_section_header: m_sectionKind u32, m_sectionName[16], padding, m_sectionOffset u64,
# m_sectionSize u64.
XCLBIN_SECTION = struct.Struct("<I16s4xQQ")
# The kit's xclbinaddaei.py writes the image id, 32 ASCII characters, over m_next_axlf and
# m_debug_bin, where the FP1 runtime looks for it.
XCLBIN_IMAGE_ID_OFFSET = 416
# An xclbin of the kit has a dozen sections; the limit keeps a hostile count from costing reads.
MAX_XCLBIN_SECTIONS = 256
# Section kinds, numbered by their place (the kit's xclbin.h; later XRT adds more).
XCLBIN_SECTION_KINDS = [
    "BITSTREAM",
    "CLEARING_BITSTREAM",
    "EMBEDDED_METADATA",
    "FIRMWARE",
    "DEBUG_DATA",
    "SCHED_FIRMWARE",
    "MEM_TOPOLOGY",
    "CONNECTIVITY",
    "IP_LAYOUT",
    "DEBUG_IP_LAYOUT",
    "DESIGN_CHECK_POINT",
    "CLOCK_FREQ_TOPOLOGY",
]
_BITSTREAM_KIND = 0
MAX_EMBEDDED_METADATA_BYTES = 4 * 1024 * 1024


class BitstreamError(AfsError):
    """The file is not a readable bitstream or xclbin; the message says why in one line."""


class BitHeader(BaseModel):
    """What a `.bit` header says, and where its configuration data lies in the file."""

    design: str
    attributes: dict[str, str]
    part: str
    date: str
    time: str
    data_offset: int
    data_bytes: int

    @property
    def partial(self) -> bool:
        return self.attributes.get("PARTIAL", "").upper() == "TRUE"

    @property
    def tool_version(self) -> str | None:
        return self.attributes.get("Version")

    @property
    def user_id(self) -> str | None:
        return self.attributes.get("UserID")


class XclbinSection(BaseModel):
    kind: int
    kind_name: str
    name: str
    offset: int
    size: int


class XclbinInfo(BaseModel):
    timestamp: int
    platform: str
    sections: list[XclbinSection]
    primary: XclbinSection  # the BITSTREAM section
    # The header of the bitstream it holds (data_offset from the start of the xclbin); None when
    # it holds a checkpoint, as xocc writes with `acceleratorBinaryContent=dcp`.
    bitstream: BitHeader | None


class BitstreamInfo(BaseModel):
    """What `afs bitstream info` prints: the bitstream of a `.bit` or an `.xclbin` file."""

    kind: Literal["bit", "xclbin"]
    part: str
    design: str
    tool_version: str | None
    partial: bool
    data_bytes: int
    sha256: str


def canonical_part(part: str) -> str:
    """A part as a device and package, without `xc`, speed grade and temperature.

    Vivado writes some families' parts in full (`xczu6eg-ffvc900-1-i`) and others short
    (`7z020clg400`); both name the device and package, which is what a bitstream is built for.
    """
    device, *rest = part.strip().lower().removeprefix("xc").split("-")
    # `vu9p-flgb2104-2-i`: the package follows; `7z020clg400-1`: the speed grade does.
    package = rest[0] if rest and rest[0][:1].isalpha() else ""
    return device + package


def same_part(first: str, second: str) -> bool:
    return canonical_part(first) == canonical_part(second)


def _read_exactly(stream: BinaryIO, count: int, what: str, name: str) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise BitstreamError(f"{name} ends inside its {what}")
    return data


def _string_field(stream: BinaryIO, key: bytes, name: str, left: int) -> str:
    what = _STRING_FIELDS[key]
    found = _read_exactly(stream, 1, f"{what} field", name)
    if found != key:
        raise BitstreamError(
            f"{name}: expected the {what} field ({key.decode()!r}) in its header, "
            f"found byte 0x{found[0]:02x}"
        )
    (length,) = struct.unpack(">H", _read_exactly(stream, 2, f"{what} field", name))
    if not 1 <= length <= min(MAX_FIELD_BYTES, left):
        raise BitstreamError(
            f"{name}: its {what} field says {length} bytes; "
            f"at most {min(MAX_FIELD_BYTES, left)} can be"
        )
    raw = _read_exactly(stream, length, f"{what} field", name)
    if raw[-1:] != b"\x00":
        raise BitstreamError(f"{name}: its {what} field is not NUL-terminated")
    try:
        text = raw[:-1].decode("ascii")
    except UnicodeDecodeError:
        raise BitstreamError(f"{name}: its {what} field is not ASCII") from None
    if not text.isprintable():
        raise BitstreamError(f"{name}: its {what} field has a control character")
    return text


def _design_attributes(design: str) -> tuple[str, dict[str, str]]:
    """`top;UserID=0XFFFFFFFF;Version=2017.2` -> ('top', {'UserID': ..., 'Version': ...})."""
    name, *items = design.split(";")
    attributes = {}
    for item in items:
        key, equals, value = item.partition("=")
        if equals:
            attributes[key.strip()] = value.strip()
    return name, attributes


def read_bit_header(stream: BinaryIO, size: int, name: str, start: int = 0) -> BitHeader:
    """The header of a `.bit` of `size` bytes starting at `start` of `stream`; its data length
    checked against `size`, and its data opening with the sync word."""
    stream.seek(start)
    preamble = stream.read(len(BIT_PREAMBLE))
    if preamble != BIT_PREAMBLE:
        raise BitstreamError(f"{name} is not a Xilinx bitstream (no .bit header at its start)")
    fields = {}
    for key in _STRING_FIELDS:
        left = size - (stream.tell() - start)
        fields[_STRING_FIELDS[key]] = _string_field(stream, key, name, left)
    if _read_exactly(stream, 1, "data field", name) != b"e":
        raise BitstreamError(f"{name}: expected the data field ('e') after the time")
    (data_bytes,) = struct.unpack(">I", _read_exactly(stream, 4, "data length", name))
    data_offset = stream.tell() - start
    if data_bytes != size - data_offset:
        raise BitstreamError(
            f"{name}: its header says {data_bytes} bytes of configuration data, "
            f"the file holds {size - data_offset}"
        )
    # The sync word follows the dummy words and the bus-width pattern within the first words.
    if SYNC_WORD not in stream.read(min(data_bytes, 256)):
        raise BitstreamError(f"{name}: its configuration data has no sync word (AA995566)")
    design, attributes = _design_attributes(fields["design"])
    return BitHeader(
        design=design,
        attributes=attributes,
        part=fields["part"],
        date=fields["date"],
        time=fields["time"],
        data_offset=data_offset,
        data_bytes=data_bytes,
    )


# The device of a configuration stream: its Type 1 write of the IDCODE register (UG570: header
# 0x30018001, then the IDCODE), compared without the revision nibble.
IDCODE_WRITE = bytes.fromhex("30018001")
IDCODE_MASK = 0x0FFFFFFF
PART_IDCODES = {"vu9pflgb2104": 0x04B31093}
# The sync word and the IDCODE write lie within the stream's first words.
_STREAM_HEAD_BYTES = 4096


def idcode_of(part: str) -> int | None:
    return PART_IDCODES.get(canonical_part(part))


def stream_idcode(path: Path, offset: int = 0) -> int:
    """The IDCODE a configuration stream (a `.bin`, or a `.bit`'s data at `offset`) writes."""
    with path.open("rb") as stream:
        stream.seek(offset)
        head = stream.read(_STREAM_HEAD_BYTES)
    sync = head.find(SYNC_WORD)
    if sync < 0:
        raise BitstreamError(f"{path.name} has no sync word (AA995566) in its first words")
    write = head.find(IDCODE_WRITE, sync)
    if write < 0 or write + 8 > len(head):
        raise BitstreamError(f"{path.name} writes no IDCODE after its sync word")
    (idcode,) = struct.unpack(">I", head[write + 4 : write + 8])
    return int(idcode)


def starts_as_bit(path: Path) -> bool:
    """Whether the file opens with a `.bit` header's preamble."""
    with path.open("rb") as stream:
        return stream.read(len(BIT_PREAMBLE)) == BIT_PREAMBLE


def read_bit(path: Path) -> BitHeader:
    """The header of the `.bit` file at `path` (whatever its name), or BitstreamError."""
    try:
        with path.open("rb") as stream:
            return read_bit_header(stream, path.stat().st_size, path.name)
    except OSError as exc:
        raise BitstreamError(f"{path.name} cannot be read ({exc.strerror})") from exc


def _section(raw: bytes, file_size: int, name: str) -> XclbinSection:
    kind, section_name, offset, size = XCLBIN_SECTION.unpack(raw)
    label = section_name.split(b"\x00", 1)[0].decode("ascii", errors="replace")
    kind_name = XCLBIN_SECTION_KINDS[kind] if kind < len(XCLBIN_SECTION_KINDS) else f"kind {kind}"
    if offset > file_size or size > file_size - offset:
        raise BitstreamError(
            f"{name}: section {kind_name} says {size} bytes at offset {offset}, "
            f"past the end of the file ({file_size} bytes)"
        )
    return XclbinSection(kind=kind, kind_name=kind_name, name=label, offset=offset, size=size)


def _read_xclbin(stream: BinaryIO, size: int, name: str) -> XclbinInfo:
    head = stream.read(XCLBIN_HEADER_BYTES)
    if not head.startswith(XCLBIN_MAGIC):
        raise BitstreamError(f"{name} is not an xclbin (no 'xclbin2' magic at its start)")
    if len(head) < XCLBIN_HEADER_BYTES:
        raise BitstreamError(f"{name} ends inside its xclbin header")
    fields = XCLBIN_HEADER.unpack(head)
    length, timestamp, vbnv, count = fields[4], fields[5], fields[13], fields[16]
    if length != size:
        raise BitstreamError(f"{name}: its header says {length} bytes, the file has {size}")
    if not 1 <= count <= MAX_XCLBIN_SECTIONS:
        raise BitstreamError(
            f"{name}: its header says {count} sections (1 to {MAX_XCLBIN_SECTIONS} can be)"
        )
    table = count * XCLBIN_SECTION.size
    if XCLBIN_HEADER_BYTES + table > size:
        raise BitstreamError(f"{name}: its {count} section headers run past the end of the file")
    raw = stream.read(table)
    sections = [
        _section(raw[at : at + XCLBIN_SECTION.size], size, name)
        for at in range(0, table, XCLBIN_SECTION.size)
    ]
    bitstreams = [section for section in sections if section.kind == _BITSTREAM_KIND]
    if len(bitstreams) != 1:
        raise BitstreamError(
            f"{name} has {len(bitstreams)} BITSTREAM sections; an xclbin of the kit has one"
        )
    primary = bitstreams[0]
    stream.seek(primary.offset)
    header = None
    if stream.read(len(BIT_PREAMBLE)) == BIT_PREAMBLE:
        found = read_bit_header(stream, primary.size, f"{name}'s BITSTREAM section", primary.offset)
        header = found.model_copy(update={"data_offset": primary.offset + found.data_offset})
    return XclbinInfo(
        timestamp=timestamp,
        platform=vbnv.split(b"\x00", 1)[0].decode("ascii", errors="replace"),
        sections=sections,
        primary=primary,
        bitstream=header,
    )


def read_xclbin(path: Path) -> XclbinInfo:
    """The sections of the xclbin at `path` and the header of its bitstream, or BitstreamError."""
    try:
        with path.open("rb") as stream:
            return _read_xclbin(stream, path.stat().st_size, path.name)
    except OSError as exc:
        raise BitstreamError(f"{path.name} cannot be read ({exc.strerror})") from exc


def describe(path: Path) -> BitstreamInfo:
    """A `.bit` file or an `.xclbin`, told apart by their first bytes, described."""
    try:
        with path.open("rb") as stream:
            start = stream.read(len(XCLBIN_MAGIC))
    except OSError as exc:
        raise BitstreamError(f"{path}: cannot be read ({exc.strerror})") from exc
    if start == XCLBIN_MAGIC:
        found = read_xclbin(path).bitstream
        if found is None:
            raise BitstreamError(
                f"{path}: its BITSTREAM section holds a design checkpoint (compiled with "
                "acceleratorBinaryContent=dcp), not a bitstream; `afs pack` packs it for a build"
            )
        header, kind = found, "xclbin"
    else:
        header, kind = read_bit(path), "bit"
    return BitstreamInfo(
        kind=kind,
        part=header.part,
        design=header.design,
        tool_version=header.tool_version,
        partial=header.partial,
        data_bytes=header.data_bytes,
        sha256=file_sha256(path),
    )


def copy_range(source: Path, start: int, count: int, destination: Path) -> None:
    """`count` bytes of `source` from `start` into `destination` (temp file + rename)."""
    with source.open("rb") as stream, atomic_write(destination) as out:
        stream.seek(start)
        shutil.copyfileobj(_Window(stream, count), out, _CHUNK)


class _Window:
    """At most `count` bytes of `stream` from where it stands, as a readable file."""

    def __init__(self, stream: BinaryIO, count: int) -> None:
        self.stream, self.left = stream, count

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.stream.read(size)
        self.left -= len(data)
        return data


def write_bin(bit_path: Path, bin_path: Path) -> BitHeader:
    """Write the `.bin` of a `.bit` file as `write_bitstream -bin_file` does: its configuration
    data, without the header, in the same byte order."""
    header = read_bit(bit_path)
    copy_range(bit_path, header.data_offset, header.data_bytes, bin_path)
    return header


def split_primary(xclbin_path: Path, destination: Path) -> XclbinInfo:
    """Write the xclbin's BITSTREAM section as it is, as `xclbinsplit` writes
    `split-primary.bit` (in the kit's flow, a checkpoint)."""
    info = read_xclbin(xclbin_path)
    copy_range(xclbin_path, info.primary.offset, info.primary.size, destination)
    return info


class KernelClocks(BaseModel):
    """What the kit's create_sdaccel_metadata.py reads from an xclbin's embedded metadata."""

    xclbin_timestamp: str  # <platform featureRomTime=...>
    clock_freq: str  # <clock port="DATA_CLK" frequency="250MHz">, in whole MHz
    clock_freq2: str  # <clock port="KERNEL_CLK" ...>


_MHZ = re.compile(r"\s*([0-9]{1,4})\s*(MHz)?\s*", re.IGNORECASE)


def kernel_clocks(xclbin_path: Path, info: XclbinInfo) -> KernelClocks:
    """The xclbin's timestamp and kernel clocks, from its EMBEDDED_METADATA section."""
    sections = [section for section in info.sections if section.kind_name == "EMBEDDED_METADATA"]
    if len(sections) != 1 or sections[0].size > MAX_EMBEDDED_METADATA_BYTES:
        raise BitstreamError(
            f"{xclbin_path.name} has no embedded metadata of at most "
            f"{MAX_EMBEDDED_METADATA_BYTES} bytes to read its clocks from"
        )
    with xclbin_path.open("rb") as stream:
        stream.seek(sections[0].offset)
        data = stream.read(sections[0].size).rstrip(b"\x00")
    try:
        check_xml_structure(data, "the embedded metadata")
        root = ElementTree.fromstring(data)  # noqa: S314 - DTDs are refused above
    except (DcpError, ElementTree.ParseError) as exc:
        raise BitstreamError(f"{xclbin_path.name}: {exc}") from exc
    platform = root.find(".//platform")
    clocks = {clock.get("port"): clock.get("frequency", "") for clock in root.iter("clock")}
    found = {"DATA_CLK": clocks.get("DATA_CLK"), "KERNEL_CLK": clocks.get("KERNEL_CLK")}
    mhz = {port: _MHZ.fullmatch(value or "") for port, value in found.items()}
    timestamp = None if platform is None else platform.get("featureRomTime")
    if timestamp is None or not timestamp.isdigit():
        raise BitstreamError(f"{xclbin_path.name}'s embedded metadata has no featureRomTime")
    for port, match in mhz.items():
        if match is None:
            raise BitstreamError(
                f"{xclbin_path.name}'s embedded metadata has no {port} frequency in MHz "
                f"(found {found[port]!r})"
            )
    return KernelClocks(
        xclbin_timestamp=timestamp,
        clock_freq=str(int(mhz["DATA_CLK"].group(1))),  # type: ignore[union-attr]
        clock_freq2=str(int(mhz["KERNEL_CLK"].group(1))),  # type: ignore[union-attr]
    )


def add_image_id(xclbin_path: Path, image_id: str) -> None:
    """Write an image id into an xclbin where the FP1 runtime reads it, as the kit's
    `xclbinaddaei.py` does: 32 ASCII characters at byte 416. The file is checked first."""
    if not re.fullmatch(IMAGE_ID_PATTERN, image_id):
        raise BitstreamError(f"image id {image_id!r} is not 32 lowercase hexadecimal digits")
    read_xclbin(xclbin_path)
    with xclbin_path.open("r+b") as stream:
        stream.seek(XCLBIN_IMAGE_ID_OFFSET)
        stream.write(image_id.encode("ascii"))
