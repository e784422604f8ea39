"""Reading a DCP's description out of its ZIP, whichever tool wrote it."""

from __future__ import annotations

import os
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from afs.devstack.samples import (
    SHELL_TOP,
    USER_TOP,
    write_sample_dcp,
    write_sample_module_dcp,
    write_sample_shell_dcp,
)
from afs.inputs.dcp import (
    MAX_CENTRAL_DIRECTORY_BYTES,
    MAX_DCP_XML_BYTES,
    MAX_XML_DEPTH,
    DcpError,
    DcpInfo,
    parse_dcp_xml,
    read_dcp,
    whole_design_problem,
)
from afs.inputs.names import MAX_COMPONENT_BYTES, MAX_COMPONENTS


def dcp_with(tmp_path: Path, members: dict[str, bytes | str]) -> Path:
    path = tmp_path / "design.dcp"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_sample_dcp_describes_itself(tmp_path: Path) -> None:
    info = read_dcp(write_sample_dcp(tmp_path / "d.dcp", product="Vivado v2020.2 (64-bit)"))
    assert info.part == "xcvu9p-flgb2104-2-i"
    assert info.product == "Vivado v2020.2 (64-bit)"
    assert info.top == SHELL_TOP  # the whole routed design: the shell's top
    assert info.checkpoint_version == "5"
    assert info.out_of_context is False
    assert ("EDIF", f"{SHELL_TOP}.edf") in [(f.type, f.name) for f in info.files]


def test_a_sample_module_is_synthesized_out_of_context(tmp_path: Path) -> None:
    info = read_dcp(write_sample_module_dcp(tmp_path / "m.dcp"))
    assert (info.top, info.out_of_context) == (USER_TOP, True)


@pytest.mark.parametrize(
    ("shape", "shell_top", "found"),
    [
        (
            {"out_of_context": True, "top": USER_TOP},
            None,
            "m.dcp is out of context (top 'ul_pr_top')",
        ),
        ({"out_of_context": True, "top": USER_TOP}, SHELL_TOP, "is out of context"),
        (
            {"out_of_context": False, "top": "my_top"},
            SHELL_TOP,
            "has top 'my_top', not the shell's top",
        ),
        ({"out_of_context": None, "top": "my_top"}, SHELL_TOP, "has top 'my_top'"),
    ],
)
def test_only_the_whole_routed_design_is_an_upload(
    shape: dict, shell_top: str | None, found: str
) -> None:
    info = DcpInfo(checkpoint_version="5", product="", part="p", files=[], **shape)
    problem = whole_design_problem(info, "m.dcp", shell_top)
    assert problem is not None
    assert found in problem
    assert problem.endswith("which the FP1 kit writes to to_facs/<prj>_routed.dcp")


@pytest.mark.parametrize("shell_top", [None, SHELL_TOP])
def test_a_whole_design_of_the_shell_is_an_upload(shell_top: str | None) -> None:
    info = DcpInfo(
        checkpoint_version="5", product="", part="p", top=SHELL_TOP, out_of_context=False, files=[]
    )
    assert whole_design_problem(info, "d.dcp", shell_top) is None
    # Without the shell to compare with, a top that differs cannot be judged.
    assert whole_design_problem(info.model_copy(update={"top": "x"}), "d.dcp") is None


def test_a_sample_shell_checkpoint_is_not_out_of_context(tmp_path: Path) -> None:
    assert (
        read_dcp(write_sample_shell_dcp(tmp_path / "s.dcp", "0x12345678")).out_of_context is False
    )


# dcp.xml as Vivado releases write it (shapes seen in real checkpoints; names and values are ours):
# a Checkpoint root, flags "0"/"1", elements added over the years that a reader must pass over.
VIVADO_2016 = """<?xml version="1.0"?>
<Checkpoint Version="5" Minor="0">
\t<BUILD_NUMBER Name="1500000"/>
\t<FULL_BUILD Name="SW Build 1500000 on Thu Jun  2 16:32:40 MDT 2016"/>
\t<PRODUCT Name="Vivado v2016.2 (64-bit)"/>
\t<Part Name="xc7a35tcsg324-1"/>
\t<Top Name="counter"/>
\t<DisableAutoIOBuffers Name="0"/>
\t<OutOfContext Name="0"/>
\t<File Type="EDIF" Name="counter.edf" ModTime="1500000000"/>
\t<File Type="XDEF" Name="counter.xdef" ModTime="1500000001"/>
</Checkpoint>
"""
VIVADO_2022_MODULE = """<?xml version="1.0"?>
<Checkpoint Version="19" Minor="0">
\t<BUILD_NUMBER Name="3600000"/>
\t<PRODUCT Name="Vivado v2022.1.2 (64-bit)"/>
\t<Part Name="xcvu9p-flgb2104-2-i"/>
\t<BoardPart Name=""/>
\t<Top Name="ul_pr_top"/>
\t<DisableAutoIOBuffers Name="1"/>
\t<OutOfContext Name="1"/>
\t<HDPlatform Name="0"/>
\t<HDBlackboxInfo Name="u_child HD.RECONFIGURABLE"/>
\t<File Type="PHYSDB_PLACEMENT" Name="ul_pr_top_place.phys" ModTime="1650000000"/>
\t<File Type="EDIF" Name="ul_pr_top.edf" ModTime="1650000000"/>
</Checkpoint>
"""


@pytest.mark.parametrize(
    ("xml", "product", "part", "top", "version", "out_of_context", "files"),
    [
        (VIVADO_2016, "Vivado v2016.2 (64-bit)", "xc7a35tcsg324-1", "counter", "5", False, 2),
        (VIVADO_2022_MODULE, "Vivado v2022.1.2 (64-bit)", "xcvu9p-flgb2104-2-i", "ul_pr_top",
         "19", True, 2),
        # UTF-8 with a byte-order mark and Windows line ends (a checkpoint repacked on Windows).
        (b"\xef\xbb\xbf" + VIVADO_2016.replace("\n", "\r\n").encode(), "Vivado v2016.2 (64-bit)",
         "xc7a35tcsg324-1", "counter", "5", False, 2),
    ],
    ids=["vivado-2016", "vivado-2022-module", "bom-crlf"],
)  # fmt: skip
def test_checkpoints_of_every_release_shape_are_read(
    tmp_path: Path,
    xml: str | bytes,
    product: str,
    part: str,
    top: str,
    version: str,
    out_of_context: bool,
    files: int,
) -> None:
    info = read_dcp(dcp_with(tmp_path, {"dcp.xml": xml, "x.edf": "(edif)"}))
    assert (info.product, info.part, info.top) == (product, part, top)
    assert (info.checkpoint_version, info.out_of_context, len(info.files)) == (
        version,
        out_of_context,
        files,
    )


@pytest.mark.parametrize(
    ("flag", "read_as"),
    [("1", True), ("0", False), ("true", True), ("False", False), ("maybe", None), (None, None)],
)
def test_the_out_of_context_flag_is_read_as_vivado_writes_it(
    flag: str | None, read_as: bool | None
) -> None:
    element = "" if flag is None else f'<OutOfContext Name="{flag}"/>'
    xml = f'<Checkpoint Version="5"><Part Name="xcvu9p-flgb2104-2-i"/>{element}</Checkpoint>'
    assert parse_dcp_xml(xml.encode()).out_of_context is read_as


@pytest.mark.parametrize(
    "xml",
    [
        '<Checkpoint Version="3"><Part Name="xcvu9p-flgb2104-2-i"/><Top Name="t"/></Checkpoint>',
        '<Root><Checkpoint Version="3"><Part Name="xcvu9p-flgb2104-2-i"/></Checkpoint></Root>',
        '<Root><CheckPoint Version="3"><part Name="xcvu9p-flgb2104-2-i"/></CheckPoint></Root>',
        '<r:Root xmlns:r="urn:x"><r:Checkpoint Version="3">'
        '<r:Part Name="xcvu9p-flgb2104-2-i"/></r:Checkpoint></r:Root>',
    ],
)
def test_the_checkpoint_element_is_found_however_the_writer_nests_or_spells_it(xml: str) -> None:
    info = parse_dcp_xml(xml.encode())
    assert info.part == "xcvu9p-flgb2104-2-i"
    assert info.checkpoint_version == "3"


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (b"<Checkpoint", "not well-formed XML"),
        (b"<Root><Other/></Root>", "no <Checkpoint> element"),
        (b'<Checkpoint Version="1"><Top Name="t"/></Checkpoint>', "names no Part"),
    ],
)
def test_a_dcp_xml_without_a_usable_checkpoint_is_refused(xml: bytes, reason: str) -> None:
    with pytest.raises(DcpError, match=reason):
        parse_dcp_xml(xml)


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "design.dcp"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(DcpError, match=r"design\.dcp is not a ZIP archive"):
        read_dcp(path)


def test_a_zip_without_dcp_xml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DcpError, match=r"has no dcp\.xml at its root"):
        read_dcp(dcp_with(tmp_path, {"top.edf": "(edif)", "sub/dcp.xml": "<Checkpoint/>"}))


def test_an_oversized_dcp_xml_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = dcp_with(tmp_path, {"dcp.xml": b" " * (MAX_DCP_XML_BYTES + 1)})
    with pytest.raises(DcpError, match="too large"):
        read_dcp(path)


def test_a_dcp_xml_with_a_dtd_is_refused_so_no_entity_is_expanded(tmp_path: Path) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<Checkpoint Version="1"><Part Name="&b;"/></Checkpoint>'
    )
    with pytest.raises(DcpError, match="declares a DTD"):
        read_dcp(dcp_with(tmp_path, {"dcp.xml": bomb}))


def test_a_dtd_in_another_encoding_is_refused_too() -> None:
    bomb = (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY p "xcvu9p-flgb2104-2-i">]>'
        '<Checkpoint Version="1"><Part Name="&p;"/></Checkpoint>'
    ).encode("utf-16")
    with pytest.raises(DcpError, match="declares a DTD"):
        parse_dcp_xml(bomb)


def test_a_dcp_with_two_dcp_xml_members_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "design.dcp"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("dcp.xml", '<Checkpoint><Part Name="xcvu13p-fhga2104-2-e"/></Checkpoint>')
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr(
                "dcp.xml", '<Checkpoint><Part Name="xcvu9p-flgb2104-2-i"/></Checkpoint>'
            )
    with pytest.raises(DcpError, match=r"has 2 dcp\.xml members"):
        read_dcp(path)


def test_a_damaged_compressed_dcp_xml_is_refused_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "design.dcp"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("dcp.xml", "<Checkpoint>" + os.urandom(5_000).hex() + "</Checkpoint>")
    data = bytearray(path.read_bytes())
    start = data.index(b"dcp.xml") + len(b"dcp.xml")  # the compressed stream follows the name
    data[start + 10 : start + 60] = b"\xff" * 50
    path.write_bytes(bytes(data))
    with pytest.raises(DcpError, match=r"cannot be read as a DCP \(Error -3"):
        read_dcp(path)


# --- hostile checkpoints: every limit is checked before the parser or a reader hits it -----------

CHECKPOINT = '<Checkpoint Version="5"><Part Name="xcvu9p-flgb2104-2-i"/>{}</Checkpoint>'


def _renamed(data: bytes, old: bytes, new: bytes) -> bytes:
    """A ZIP's bytes with a member's name replaced in both headers (names of the same length)."""
    assert len(old) == len(new)
    assert data.count(old) == 2
    return data.replace(old, new)


def test_a_member_name_that_is_not_the_utf8_it_claims_is_refused(tmp_path: Path) -> None:
    path = dcp_with(tmp_path, {"dcp.xml": CHECKPOINT.format(""), "café.edf": "(edif)"})
    path.write_bytes(_renamed(path.read_bytes(), "café".encode(), b"caf\xff\xfe"))
    with pytest.raises(DcpError, match=r"design\.dcp: a member name is not UTF-8"):
        read_dcp(path)


@pytest.mark.parametrize(
    ("name", "named"),
    [
        # zipfile cuts a name at its first NUL: this member would read as dcp.xml.
        ("dcp.xml\0evil", "not printable"),
        ("x\x01y.edf", "not printable"),
        ("../../etc/cron.d/x", "'..'"),
        ("/etc/cron.d/x", "absolute path"),
        ("x" * 300, f"a path component of 300 bytes; the limit is {MAX_COMPONENT_BYTES}"),
        ("/".join(["d"] * (MAX_COMPONENTS + 1)), f"{MAX_COMPONENTS + 1} path components"),
    ],
    ids=["nul", "control", "dotdot", "absolute", "long", "deep"],
)
def test_a_member_name_a_file_system_could_not_take_safely_is_refused(
    tmp_path: Path, name: str, named: str
) -> None:
    # Vivado unpacks a checkpoint's members: their names must be safe to extract too.
    written = name.replace("\0", "!")  # zipfile would cut the name at the NUL
    path = dcp_with(tmp_path, {"dcp.xml": CHECKPOINT.format(""), written: "x"})
    path.write_bytes(_renamed(path.read_bytes(), written.encode(), name.encode()))
    with pytest.raises(DcpError, match=r"^design\.dcp: member ") as caught:
        read_dcp(path)
    assert named in str(caught.value)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    ("element", "named"),
    [
        ('<File Type="EDIF" Name="../../x.edf"/>', "'..'"),
        ('<File Type="EDIF" Name="a&#10;b.edf"/>', "File name 'a\\nb.edf' has a control"),
        ('<Top Name="top&#13;"/>', "dcp.xml's Top 'top\\r' has a control character"),
        ('<PRODUCT Name="Vivado\u0085"/>', "PRODUCT 'Vivado\\x85' has a control character"),
        (f'<Top Name="{"t" * 1025}"/>', "dcp.xml's Top is 1025 characters; the limit is 1024"),
    ],
    ids=["file-dotdot", "file-newline", "top-cr", "product-c1", "top-long"],
)
def test_dcp_xml_values_are_printable_names_of_a_sane_length(element: str, named: str) -> None:
    with pytest.raises(DcpError) as caught:
        parse_dcp_xml(CHECKPOINT.format(element).encode())
    assert named in str(caught.value)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize("depth", [MAX_XML_DEPTH + 1, 1_000_000])
def test_a_dcp_xml_nested_too_deep_is_refused_at_once(depth: int) -> None:
    xml = "<a>" * (depth - 1) + CHECKPOINT.format("") + "</a>" * (depth - 1)
    with pytest.raises(DcpError, match=f"nests deeper than {MAX_XML_DEPTH} levels"):
        parse_dcp_xml(xml.encode())


def test_a_dcp_xml_as_deep_as_allowed_is_read() -> None:
    depth = MAX_XML_DEPTH - 1  # the Part element is one level below the Checkpoint
    xml = "<a>" * (depth - 1) + CHECKPOINT.format("") + "</a>" * (depth - 1)
    assert parse_dcp_xml(xml.encode()).part == "xcvu9p-flgb2104-2-i"


def _lying_about_its_size(tmp_path: Path, compression: int, inflated: int) -> Path:
    """A DCP whose dcp.xml inflates to `inflated` bytes but declares 100 in both headers."""
    path = tmp_path / "design.dcp"
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr("dcp.xml", b" " * inflated)
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 22, 100)  # the local header's uncompressed size
    central = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)  # the central directory's
    path.write_bytes(bytes(data))
    return path


def test_a_zip_bomb_lying_about_its_size_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = _lying_about_its_size(tmp_path, zipfile.ZIP_DEFLATED, 64 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(DcpError, match="Bad CRC-32"):
            read_dcp(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


@pytest.mark.parametrize(
    ("compression", "method"), [(zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "lzma")]
)
def test_a_dcp_xml_compressed_in_a_way_vivado_never_uses_is_refused(
    tmp_path: Path, compression: int, method: str
) -> None:
    # zipfile inflates these without any bound: 242 bytes of bzip2 are 300 MB of spaces.
    path = _lying_about_its_size(tmp_path, compression, 1024)
    with pytest.raises(DcpError, match=f"dcp.xml is compressed with {method}"):
        read_dcp(path)


def test_a_central_directory_bomb_is_refused_before_zipfile_reads_it(tmp_path: Path) -> None:
    # Central directory entries of one-byte names and nothing else: 47 bytes each, and zipfile
    # makes an object of each (hundreds of bytes, and minutes for a million) before any check.
    entry = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", *[20, 0, 20, 0], *[0] * 7, 1, *[0] * 6)
    directory = (entry + b"a") * (MAX_CENTRAL_DIRECTORY_BYTES // 47 + 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(directory), 0, 0)
    path = tmp_path / "design.dcp"
    path.write_bytes(directory + end)
    with pytest.raises(DcpError, match=f"central directory of {len(directory)} bytes"):
        read_dcp(path)
