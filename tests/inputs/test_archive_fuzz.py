"""Fuzzing check_tarball with hostile uploads: whatever a tenant sends, any fault is the tenant's.

check_tarball either accepts an upload or raises ImageBuildError with a cause that scheduled
reprocessing does not build again (not INTERNAL_ERROR); any other exception fails the test. It
writes the manifest and the DCP into the work directory, nothing else and nowhere else, and nothing
at all when it refuses.

Examples start from a sound tarball and DCP and break them: members with hostile names, types,
link targets and pax headers; manifests nested deep, holding long numbers or garbage; DCPs with
hostile member names, dcp.xml documents, compression methods and declared sizes, bombs, or no ZIP
at all (a tar inside the tar); then header fields overwritten (checksum recomputed, so that tarfile
reads on) and bytes flipped, cut or inserted. The default tier runs 150 examples of each
kind in seconds; the slow tier (`-m slow`) runs thousands.

Every strategy is built once, here: Hypothesis validates a strategy the first time it draws from
it, which costs more than building the example. Damage that depends on the data is drawn as a plan
first (what to do, where as a number) and applied to the data after.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import struct
import tarfile
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from afs.devstack.samples import write_sample_dcp
from afs.errors import RETRIED_CAUSES, ImageBuildError
from afs.inputs.archive import ArchiveLimits, CheckedInput, check_tarball
from afs.inputs.dcp import MAX_CENTRAL_DIRECTORY_BYTES
from afs.models import KitFlow
from tests.factory import manifest_for

SHELL_ID, TOOL_VERSION = "0x01010029", "2017.2"
LIMITS = ArchiveLimits(max_members=16, max_member_bytes=4 << 20, max_manifest_bytes=64 << 10)
DCP_NAME = "ul_pr_top_routed.dcp"

_EXPLORE = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
FAST = settings(max_examples=150, derandomize=True, **_EXPLORE)
SLOW = settings(max_examples=2000, **_EXPLORE)


# --- sound inputs, and tars of anything -----------------------------------------------------------


@functools.cache
def sample_dcp() -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        return write_sample_dcp(Path(directory) / DCP_NAME, payload_bytes=2048).read_bytes()


def manifest(dcp: bytes) -> bytes:
    return json.dumps(manifest_for(dcp)).encode()


def member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, len(data)
    return info


def tar_of(entries: list[tuple[tarfile.TarInfo, bytes]], tar_format: int) -> bytes:
    """A tar of `entries`, leaving out those this format cannot hold (tarfile refuses them before
    writing anything). Only regular files get their data, whatever the others' headers say."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as tar:
        for info, data in entries:
            with contextlib.suppress(ValueError, UnicodeError):
                tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def upload_of(dcp: bytes) -> bytes:
    """A sound tarball around `dcp`, whose manifest vouches for it."""
    entries = [
        (member("manifest.json", manifest(dcp)), manifest(dcp)),
        (member(DCP_NAME, dcp), dcp),
    ]
    return tar_of(entries, tarfile.PAX_FORMAT)


# --- damage, drawn as a plan and applied to any bytes ---------------------------------------------

Plan = list[tuple[str, int, int, bytes]]
BYTE_DAMAGE: st.SearchStrategy[Plan] = st.lists(
    st.tuples(
        st.sampled_from(["flip", "byte", "cut", "insert", "delete"]),
        st.integers(0, 1 << 32),  # where, modulo the length
        st.integers(0, 600),
        st.binary(min_size=1, max_size=16),
    ),
    min_size=1,
    max_size=6,
)


def damaged(data: bytes, plan: Plan) -> bytes:
    """`data` with bytes flipped, overwritten, cut off, inserted or deleted, as `plan` says."""
    out = bytearray(data)
    for operation, where, amount, inserted in plan:
        at = where % max(len(out), 1)
        if operation == "flip" and out:
            out[at] ^= 1 << (amount % 8)
        elif operation == "byte" and out:
            out[at] = inserted[0]
        elif operation == "cut":
            del out[at:]
        elif operation == "insert":
            out[at:at] = inserted
        elif operation == "delete":
            del out[at : at + amount + 1]
    return bytes(out)


# Header fields (offset, length), and values that take tarfile down unusual paths.
FIELDS = [(0, 100), (100, 8), (124, 12), (136, 12), (156, 1), (157, 100), (257, 8), (345, 155)]
FIELD_VALUES = [
    b"\xff" * 12,  # a negative base-256 number
    b"\xff" + (-2048 % 256**11).to_bytes(11, "big"),
    b"\x80" + (2**80).to_bytes(11, "big"),  # a huge positive one
    b"77777777777\0", b"-0000000001\0", b"\0" * 12, b"garbage!!!!\0",
    b"S", b"x", b"g", b"L", b"K", b"2", b"1", b"7", b"5",
    b"../../../etc/passwd\0", b"/" * 100,
]  # fmt: skip
HeaderPlan = list[tuple[int, tuple[int, int], bytes, bool]]
HEADER_DAMAGE: st.SearchStrategy[HeaderPlan] = st.lists(
    st.tuples(
        st.integers(0, 1 << 16),  # which header, modulo their number
        st.sampled_from(FIELDS),
        st.one_of(st.sampled_from(FIELD_VALUES), st.binary(max_size=155)),
        st.integers(0, 9).map(bool),  # mostly a valid checksum, so that tarfile reads on
    ),
    min_size=1,
    max_size=3,
)


def header_damaged(data: bytes, plan: HeaderPlan) -> bytes:
    """`data` with fields of its tar headers overwritten as `plan` says."""
    out = bytearray(data)
    headers = [at for at in range(0, len(out) - 511, 512) if out[at + 257 : at + 262] == b"ustar"]
    for which, (offset, length), value, fix_checksum in plan if headers else []:
        at = headers[which % len(headers)]
        out[at + offset : at + offset + length] = value[:length].ljust(length, b"\0")
        if fix_checksum:
            out[at + 148 : at + 156] = b" " * 8
            out[at + 148 : at + 156] = b"%06o\0 " % sum(out[at : at + 512])
    return bytes(out)


# --- hostile pieces -------------------------------------------------------------------------------

HOSTILE_NAMES = [
    "manifest.json", "./manifest.json", DCP_NAME, "./x.dcp", "x.DCP", "../x.dcp", "../../x.dcp",
    "/etc/x.dcp", "/", ".", "..", "", "a/../../x", "./../manifest.json", "a//b.dcp", "C:\\x.dcp",
    "a\\..\\..\\x.dcp", "manifest.json/", "x.dcp/", "dcp.xml", "a\0b.dcp", "x\n.dcp", "\u202e.dcp",
]  # fmt: skip
NAMES: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(HOSTILE_NAMES),
    st.text(st.one_of(st.sampled_from("/.ax-_"), st.characters(codec="utf-8")), max_size=30),
    st.lists(st.sampled_from(["..", ".", "", "d", "x.dcp", "manifest.json"]), max_size=6).map(
        "/".join
    ),
    st.builds(
        lambda length, suffix: "x" * length + suffix,
        st.sampled_from([124, 125, 200, 251, 300, 1100, 70_000]),
        st.sampled_from(["", ".dcp", "/x.dcp"]),
    ),
    st.integers(30, 600).map(lambda depth: "d/" * depth + "x.dcp"),
)

KINDS = [
    tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE,
    tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE, tarfile.CONTTYPE, tarfile.GNUTYPE_SPARSE,
    b"Z",
]  # fmt: skip
PAX_KEYWORDS = [
    "comment", "path", "linkpath", "size", "mtime", "uid", "uname", "hdrcharset",
    "GNU.sparse.map", "GNU.sparse.size", "GNU.sparse.major", "GNU.sparse.minor",
    "GNU.sparse.realsize", "GNU.sparse.name", "SCHILY.xattr.user.x",
]  # fmt: skip
PAX_HEADERS = st.dictionaries(
    st.one_of(st.sampled_from(PAX_KEYWORDS), st.text(min_size=1, max_size=10)),
    st.one_of(
        st.text(max_size=20), st.sampled_from(["-2048", "-1", "0", "9" * 30, "1,2,3", "BINARY"])
    ),
    max_size=3,
)


@st.composite
def _extra_member(draw: st.DrawFn) -> tuple[tarfile.TarInfo, bytes]:
    data = draw(st.one_of(st.binary(max_size=64), st.builds(upload_of, st.just(b"inner"))))
    info = member(draw(NAMES), data, draw(st.sampled_from(KINDS)))
    info.linkname = draw(NAMES)
    info.pax_headers = draw(PAX_HEADERS)
    return info, data


EXTRA_MEMBERS = st.lists(_extra_member(), max_size=3)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
FIELD_NAMES = [*sorted(manifest_for(b"")), "extra"]


def _changed(field: str, value: object) -> Callable[[bytes], bytes]:
    return lambda dcp: json.dumps({**manifest_for(dcp), field: value}).encode()


def _nested(depth: int, opening: str) -> Callable[[bytes], bytes]:
    closing = {"[": "]", '{"a": ': "}"}[opening]
    return lambda _: (opening * depth + "1" + closing * depth).encode()


# Each a way to write the manifest of a given DCP.
MANIFESTS: st.SearchStrategy[Callable[[bytes], bytes]] = st.one_of(
    st.just(manifest),
    st.builds(_changed, st.sampled_from(FIELD_NAMES), JSON_VALUES),
    st.builds(_nested, st.integers(1, 20_000), st.sampled_from(["[", '{"a": '])),
    st.integers(1, 6000).map(lambda digits: lambda _: b'{"a": ' + b"9" * digits + b"}"),
    st.binary(max_size=200).map(lambda junk: lambda _: junk),
)

# `{}` comes first, so that an element put there is the one read.
VALID_XML = (
    '<?xml version="1.0"?><Checkpoint Version="5">{}<PRODUCT Name="Vivado v2017.2 (64-bit)"/>'
    '<Part Name="xcvu9p-flgb2104-2-i"/><Top Name="top"/><OutOfContext Name="0"/>'
    '<File Type="EDIF" Name="top.edf"/></Checkpoint>'
)
HOSTILE_XML = [
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
    b'<Checkpoint><Part Name="&b;"/></Checkpoint>',
    b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><Checkpoint><Part Name="&x;"/>'
    b"</Checkpoint>",
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r><Checkpoint/>'.encode("utf-16"),
    b"<Checkpoint",
    b"",
]


def _element(tag: str, value: str, as_references: bool) -> bytes:
    """A sound dcp.xml with a `<tag Name=value/>` first in its checkpoint."""
    if as_references:
        quoted = '"' + "".join(f"&#{ord(char)};" for char in value) + '"'
    else:
        quoted = quoteattr(value)
    return VALID_XML.format(f"<{tag} Name={quoted}/>").encode()


DCP_XMLS = st.one_of(  # half of them a sound checkpoint with one hostile element
    st.builds(
        _element,
        st.sampled_from(["Top", "Part", "PRODUCT", "File", "OutOfContext", "Checkpoint"]),
        st.one_of(st.text(max_size=20), st.sampled_from(["../x", "/x", "x" * 2000])),
        st.booleans(),
    ),
    st.one_of(
        st.just(VALID_XML.format("").encode()),
        st.integers(0, 3000).map(
            lambda depth: ("<a>" * depth + VALID_XML.format("") + "</a>" * depth).encode()
        ),
        st.sampled_from(HOSTILE_XML),
        st.binary(max_size=200),
    ),
)


def lying_sizes(data: bytes, size: int) -> bytes:
    """`data` with the uncompressed size of every ZIP header (local and central) set to `size`."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = out.find(signature)
        while at >= 0:
            if at + offset + 4 <= len(out):
                struct.pack_into("<I", out, at + offset, size)
            at = out.find(signature, at + 4)
    return bytes(out)


COMPRESSIONS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]


@st.composite
def _built_zip(draw: st.DrawFn) -> bytes:
    """A ZIP holding a dcp.xml (or none, or two) and members with hostile names."""
    entries = [("dcp.xml", draw(DCP_XMLS))] if draw(st.integers(0, 9)) else []
    # A ZIP's name field holds at most 64 KiB; zipfile writes no empty name.
    hostile = st.tuples(NAMES.map(lambda name: name[:4096] or "x"), st.binary(max_size=32))
    entries += draw(st.lists(hostile, max_size=3))
    buffer = io.BytesIO()
    compression = draw(st.sampled_from(COMPRESSIONS))
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression) as archive:
        warnings.simplefilter("ignore")  # duplicate names are part of the fuzz
        for name, content in entries:
            # zipfile cuts a name at a NUL: write a stand-in of the same length, then the NUL.
            archive.writestr(name.replace("\0", "!"), content)
    data = buffer.getvalue()
    mangle = draw(st.booleans())
    for name, _ in entries:
        if "\0" in name:
            data = data.replace(name.replace("\0", "!").encode(), name.encode())
        elif mangle and not name.isascii():  # zipfile flagged it UTF-8: make that a lie
            data = data.replace(name.encode(), b"\xff" * len(name.encode()))
    if draw(st.integers(0, 3)) == 0:  # every member's declared size a lie
        data = lying_sizes(data, draw(st.sampled_from([0, 1, 100, 0xFFFFFFFF])))
    return data


@functools.cache
def deflate_bomb(megabytes: int, declared: int) -> bytes:
    """A dcp.xml of megabytes of spaces, deflated to kilobytes, declaring `declared` bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("dcp.xml", b" " * (megabytes << 20))
    return lying_sizes(buffer.getvalue(), declared)


@functools.cache
def central_directory_bomb() -> bytes:
    """Nothing but central directory entries with one-byte names, a little over the limit."""
    entry = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", *[20, 0, 20, 0], *[0] * 7, 1, *[0] * 6)
    directory = (entry + b"a") * (MAX_CENTRAL_DIRECTORY_BYTES // 47 + 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(directory), 0, 0)
    return directory + end


DCPS = st.one_of(  # half of them ZIPs built to get past the ZIP's own checks
    _built_zip(),
    st.one_of(
        st.builds(sample_dcp),
        st.builds(damaged, st.builds(sample_dcp), BYTE_DAMAGE),
        st.builds(deflate_bomb, st.sampled_from([1, 16]), st.sampled_from([100, 5 << 20])),
        st.builds(central_directory_bomb),
        st.builds(upload_of, st.builds(sample_dcp)),  # a tar where the ZIP should be
        st.binary(max_size=300),
    ),
)
TAR_FORMATS = [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT]


@st.composite
def _tarball(draw: st.DrawFn) -> bytes:
    """An upload: a manifest, a DCP and other members, all possibly hostile, maybe damaged."""
    dcp = draw(DCPS)
    manifest_bytes = draw(MANIFESTS)(dcp)
    entries = [
        (member(draw(st.sampled_from(["manifest.json", "./manifest.json"])), manifest_bytes),
         manifest_bytes),
        (member(draw(st.one_of(st.just(DCP_NAME), NAMES)), dcp), dcp),
        *draw(EXTRA_MEMBERS),
    ]  # fmt: skip
    data = tar_of(draw(st.permutations(entries)), draw(st.sampled_from(TAR_FORMATS)))
    # Damaged now and then only: most damage ends at the first header read, and the later checks
    # deserve examples too.
    if draw(st.integers(0, 2)) == 0:
        data = header_damaged(data, draw(HEADER_DAMAGE))
    if draw(st.integers(0, 7)) == 0:
        data = damaged(data, draw(BYTE_DAMAGE))
    return data


TARBALLS = _tarball()
DCP_UPLOADS = st.builds(upload_of, DCPS)  # the manifest vouches for the DCP, so it gets read


# --- the property ---------------------------------------------------------------------------------


def outcome(tar_path: Path, work: Path) -> CheckedInput | ImageBuildError:
    try:
        return check_tarball(
            tar_path,
            work,
            limits=LIMITS,
            kit_flows=[KitFlow(flow_type="vivado", shell_id=SHELL_ID, tool_version=TOOL_VERSION)],
        )
    except ImageBuildError as exc:
        return exc


def assert_the_tenants_fault_at_worst(upload: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        tar_path = root / "upload.tar"
        tar_path.write_bytes(upload)
        # Deep enough that a member escaping by `..` would still land under `root`, and be seen.
        work = root / "a" / "b" / "c" / "work"
        result = outcome(tar_path, work)  # any other exception fails the test
        expected: set[Path] = set()
        if isinstance(result, ImageBuildError):
            assert result.cause not in RETRIED_CAUSES, result.message
            assert len(result.message) < 2000, result.message[:2000]
            result.message.encode("utf-8")  # it can be stored and shown
        else:
            expected = {result.manifest_path, result.dcp_path}
            assert result.dcp_path.parent == work
        written = {path for path in root.rglob("*") if path.is_symlink() or not path.is_dir()}
        assert written - {tar_path} == expected


@FAST
@given(TARBALLS)
def test_no_tarball_ends_in_an_error_of_the_factory(upload: bytes) -> None:
    assert_the_tenants_fault_at_worst(upload)


@FAST
@given(DCP_UPLOADS)
def test_no_dcp_ends_in_an_error_of_the_factory(upload: bytes) -> None:
    assert_the_tenants_fault_at_worst(upload)


@pytest.mark.slow
@SLOW
@given(TARBALLS)
def test_thousands_of_tarballs_end_in_no_error_of_the_factory(upload: bytes) -> None:
    assert_the_tenants_fault_at_worst(upload)


@pytest.mark.slow
@SLOW
@given(DCP_UPLOADS)
def test_thousands_of_dcps_end_in_no_error_of_the_factory(upload: bytes) -> None:
    assert_the_tenants_fault_at_worst(upload)
