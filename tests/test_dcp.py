"""Reading a DCP's description out of its ZIP, whichever tool wrote it."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from afs.dcp import MAX_DCP_XML_BYTES, DcpError, parse_dcp_xml, read_dcp
from afs.samples import write_sample_dcp


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
    assert info.top == "ul_pr_top"
    assert info.checkpoint_version == "5"
    assert info.out_of_context is False
    assert ("EDIF", "ul_pr_top.edf") in [(f.type, f.name) for f in info.files]


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
