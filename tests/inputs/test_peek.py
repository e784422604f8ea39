"""Peeking at a tenant tarball's manifest in the store: a few ranged reads of tar headers find it
wherever a plain tar puts it, skipping member data; anything not read plainly is no answer (None).

Every test reads through `Store`, which refuses a range the object does not hold, so each one also
checks that peek stays inside the object.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from afs.inputs.archive import MANIFEST_NAME, ArchiveLimits
from afs.inputs.peek import peek_manifest
from afs.models import Manifest
from tests.factory import json_bytes, manifest_for, sample_tarball, tarball

LIMITS = ArchiveLimits(max_members=64, max_member_bytes=2**31, max_manifest_bytes=64 * 1024)
BLOCK = tarfile.BLOCKSIZE
DCP_NAME = "ul_pr_top_routed.dcp"
DCP = b"PK\x03\x04 not read by peek"
MANIFEST = json_bytes(manifest_for(DCP, tool_version="2017.4.op"))


class Store:
    """A tarball in the object store, read by ranges as the dispatcher reads it.

    Every range is recorded. One the object does not hold fails the test at once: before its
    start, past its end, or of no bytes at all (`bytes=N-(N-1)` is an invalid HTTP range, which
    S3 ignores, sending the whole object instead).
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.ranges: list[tuple[int, int]] = []

    def read(self, offset: int, length: int) -> bytes:
        self.ranges.append((offset, length))
        asked = f"read({offset}, {length}) of a {len(self.data)}-byte object"
        assert offset >= 0, asked
        assert length > 0, asked
        assert offset + length <= len(self.data), asked
        return self.data[offset : offset + length]

    @property
    def bytes_read(self) -> int:
        return sum(length for _, length in self.ranges)


def _peek(data: bytes, limits: ArchiveLimits = LIMITS) -> tuple[Manifest | None, Store]:
    store = Store(data)
    return peek_manifest(store.read, len(data), limits), store


def _info(
    name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, **fields: object
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data)
    for field, value in fields.items():
        setattr(info, field, value)
    return info, data


def _tar(*members: tuple[tarfile.TarInfo, bytes], tar_format: int = tarfile.GNU_FORMAT) -> bytes:
    """A tar of `members` in that order, each a TarInfo as given (any type) and its data."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def _header(name: str, size: int) -> bytes:
    """A lone GNU header declaring `size` (base-256, so it may be negative), without its data."""
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf(tarfile.GNU_FORMAT)


# --- finding it -----------------------------------------------------------------------------------


def test_a_packed_tarball_gives_its_tool_version_from_its_first_blocks(tmp_path: Path) -> None:
    data = sample_tarball(tmp_path, flow="sdaccel")

    manifest, store = _peek(data)

    assert manifest is not None
    assert manifest.tool_version == "2017.4.op"
    # pack puts the DCP first, as the kit does: its header, then the manifest's header and
    # data, and nothing of the DCP's data.
    assert len(store.ranges) <= 4
    assert store.bytes_read <= 4 * BLOCK
    assert store.bytes_read < len(data) // 10


def test_a_manifest_after_a_large_dcp_is_found_without_reading_the_dcp() -> None:
    dcp = bytes(8 * 1024 * 1024)
    data = tarball({DCP_NAME: dcp, MANIFEST_NAME: MANIFEST})

    manifest, store = _peek(data)

    assert manifest is not None
    assert manifest.tool_version == "2017.4.op"
    # Two headers and the manifest: the DCP's data is stepped over, not read.
    assert len(store.ranges) == 3
    assert store.bytes_read == 2 * BLOCK + len(MANIFEST)


def test_dot_slash_prefixes_as_tar_dash_c_dot_writes_them_are_found() -> None:
    """`tar -C dir -cf dcp.tar .` starts with a `./` directory and prefixes every name."""
    data = _tar(
        _info("./", kind=tarfile.DIRTYPE),
        _info(f"./{DCP_NAME}", DCP),
        _info("./manifest.json", MANIFEST),
    )

    manifest, _ = _peek(data)

    assert manifest is not None
    assert manifest.tool_version == "2017.4.op"


LONG_NESTED_NAME = "deep/" * 25 + "manifest.json"  # 138 bytes: past ustar's 100-byte name field


@pytest.mark.parametrize(
    "tar_format", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT], ids=["pax", "gnu-long-name"]
)
@pytest.mark.parametrize(
    "members",
    [
        [(LONG_NESTED_NAME, b"not the manifest"), (MANIFEST_NAME, MANIFEST)],
        [(DCP_NAME, DCP), ("./" * 60 + MANIFEST_NAME, MANIFEST)],
    ],
    ids=["long-named-member-before", "manifest-itself-long-named"],
)
def test_names_given_by_extended_headers_are_followed(
    tar_format: int, members: list[tuple[str, bytes]]
) -> None:
    """A long name belongs to the one member after its header: a nested `manifest.json` before the
    real one is not taken for it, and the real one under a long `././...` name is found."""
    data = _tar(*(_info(name, content) for name, content in members), tar_format=tar_format)

    manifest, store = _peek(data)

    assert manifest is not None
    assert manifest.tool_version == "2017.4.op"
    assert len(store.ranges) == 5  # three headers, the long name and the manifest: no other data


def test_a_pax_header_without_a_path_leaves_the_members_own_name() -> None:
    """tarfile writes a pax header for a non-ASCII owner; GNU tar's pax format one for the times
    of every member. Neither names the member."""
    data = _tar(_info(MANIFEST_NAME, MANIFEST, uname="tenänt"), tar_format=tarfile.PAX_FORMAT)
    assert data[156:157] == tarfile.XHDTYPE  # the first header is the pax one

    manifest, _ = _peek(data)

    assert manifest is not None


def test_the_path_of_a_pax_header_wins_over_the_members_own_name() -> None:
    """As tarfile (and the build) reads it, this member is `docs/manifest.json`, not a manifest."""
    renamed = _info(MANIFEST_NAME, MANIFEST, pax_headers={"path": "docs/manifest.json"})
    data = _tar(renamed, tar_format=tarfile.PAX_FORMAT)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        assert archive.getnames() == ["docs/manifest.json"]

    assert _peek(data)[0] is None


def test_a_global_pax_header_at_the_start_does_not_hide_the_manifest() -> None:
    buffer = io.BytesIO()
    with tarfile.open(
        fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "a1b2c3"}
    ) as archive:
        for info, data in (_info(MANIFEST_NAME, MANIFEST), _info(DCP_NAME, DCP)):
            archive.addfile(info, io.BytesIO(data))
    assert buffer.getvalue()[156:157] == tarfile.XGLTYPE

    manifest, _ = _peek(buffer.getvalue())

    assert manifest is not None


# --- no answer ------------------------------------------------------------------------------------


def test_no_manifest_is_none() -> None:
    assert _peek(tarball({DCP_NAME: DCP, "README.txt": b"notes"}))[0] is None


def test_an_empty_tar_is_none() -> None:
    assert _peek(tarball({}))[0] is None


def test_a_manifest_larger_than_the_limit_is_none_without_reading_it() -> None:
    too_large = MANIFEST + b" " * (LIMITS.max_manifest_bytes - len(MANIFEST) + 1)
    data = tarball({MANIFEST_NAME: too_large, DCP_NAME: DCP})

    manifest, store = _peek(data)

    assert manifest is None
    assert store.ranges == [(0, BLOCK)]  # its header only


def test_a_manifest_of_exactly_the_limit_is_read() -> None:
    at_limit = MANIFEST + b" " * (LIMITS.max_manifest_bytes - len(MANIFEST))
    assert _peek(tarball({MANIFEST_NAME: at_limit}))[0] is not None


@pytest.mark.parametrize(
    "content",
    [
        b'{"version": "2.0",',
        b"\xff\xfe not UTF-8",
        json_bytes([manifest_for(DCP)]),
        json_bytes({**manifest_for(DCP), "tool_version": 2017}),
        json_bytes({key: value for key, value in manifest_for(DCP).items() if key != "shell_id"}),
        json_bytes(manifest_for(DCP, pci_device_id="D503")),
        json_bytes(manifest_for(DCP, dcp_sha256="not-a-digest")),
    ],
    ids=[
        "cut-json",
        "not-utf8",
        "not-an-object",
        "number",
        "field-missing",
        "bad-pci-id",
        "bad-sha256",
    ],
)
def test_a_manifest_that_does_not_parse_or_validate_is_none(content: bytes) -> None:
    """The build refuses it with its own cause; the dispatcher only needs no answer."""
    assert _peek(tarball({MANIFEST_NAME: content, DCP_NAME: DCP}))[0] is None


def test_a_gzip_compressed_tarball_is_none(tmp_path: Path) -> None:
    data = gzip.compress(sample_tarball(tmp_path, flow="sdaccel"))

    manifest, store = _peek(data)

    assert manifest is None
    assert len(store.ranges) == 1  # the first "header" fails its checksum


def test_a_tarball_cut_inside_a_header_is_none() -> None:
    whole = tarball({DCP_NAME: DCP, MANIFEST_NAME: MANIFEST})
    manifest_header_at = BLOCK + -(-len(DCP) // BLOCK) * BLOCK

    assert _peek(whole[: manifest_header_at + BLOCK // 2])[0] is None


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1])
def test_a_tarball_smaller_than_one_block_is_none_without_a_read(size: int) -> None:
    manifest, store = _peek(tarball({MANIFEST_NAME: MANIFEST})[:size])

    assert manifest is None
    assert store.ranges == []


@pytest.mark.parametrize(
    "member",
    [
        _info(MANIFEST_NAME, kind=tarfile.SYMTYPE, linkname="docs/real.json"),
        _info(MANIFEST_NAME, kind=tarfile.DIRTYPE),
        _info(MANIFEST_NAME + "/", kind=tarfile.DIRTYPE),
        _info(MANIFEST_NAME, kind=tarfile.LNKTYPE, linkname="docs/real.json"),
    ],
    ids=["symlink", "directory", "directory-slash", "hardlink"],
)
def test_a_manifest_that_is_not_a_regular_file_is_none(
    member: tuple[tarfile.TarInfo, bytes],
) -> None:
    data = _tar(_info("docs/", kind=tarfile.DIRTYPE), _info("docs/real.json", MANIFEST), member)
    assert _peek(data)[0] is None


@pytest.mark.parametrize(
    "name", ["docs/manifest.json", "./docs/manifest.json", "a/b/manifest.json"]
)
def test_a_manifest_nested_in_a_directory_is_none(name: str) -> None:
    """Only the root's manifest is the tarball's, as the build reads it."""
    assert _peek(tarball({name: MANIFEST, DCP_NAME: DCP}))[0] is None


def test_a_manifest_after_an_unsafe_member_is_none() -> None:
    """The build refuses the tarball at the unsafe member; peek gives up there too."""
    data = _tar(_info("../escape.txt", b"x"), _info(MANIFEST_NAME, MANIFEST))
    assert _peek(data)[0] is None


# --- bounded reads --------------------------------------------------------------------------------


def test_at_most_three_headers_a_member_allowed_are_read() -> None:
    """Each member may carry two extended headers, so 3 * max_members headers are all a tarball
    the build accepts can need before its manifest; a longer tar is not walked to its end."""
    members = {f"file-{index:04}.txt": b"" for index in range(4 * LIMITS.max_members)}

    manifest, store = _peek(tarball(members))

    assert manifest is None
    assert len(store.ranges) <= 3 * LIMITS.max_members
    assert all(length == BLOCK for _, length in store.ranges)  # headers only: the files are empty


@pytest.mark.parametrize(("before", "found"), [(5, True), (6, False)])
def test_the_header_budget_follows_the_limits(before: int, found: bool) -> None:
    """With 2 members allowed, a manifest in the 6th header is found, one in the 7th is not."""
    limits = LIMITS.model_copy(update={"max_members": 2})
    members = {**{f"file-{index}.txt": b"" for index in range(before)}, MANIFEST_NAME: MANIFEST}

    manifest, store = _peek(tarball(members), limits)

    assert (manifest is not None) == found
    assert len(store.ranges) <= 3 * limits.max_members + 1  # the 6 headers, and the manifest's data


@pytest.mark.parametrize(
    "whole",
    [
        tarball({MANIFEST_NAME: MANIFEST}),
        _tar(_info("./" * 60 + MANIFEST_NAME, MANIFEST)),
    ],
    ids=["manifest-data", "long-name-data"],
)
def test_data_cut_short_is_none_without_reading_past_the_end(whole: bytes) -> None:
    assert _peek(whole[: BLOCK + 100])[0] is None


def test_an_empty_manifest_is_none_without_an_empty_read() -> None:
    assert _peek(tarball({MANIFEST_NAME: b"", DCP_NAME: DCP}))[0] is None


@pytest.mark.parametrize(
    "data",
    [
        _header("a.txt", -2 * BLOCK) + tarball({MANIFEST_NAME: MANIFEST}),
        _header(MANIFEST_NAME, -BLOCK) + tarball({DCP_NAME: DCP}),
    ],
    ids=["member-before", "manifest"],
)
def test_a_negative_size_is_none_without_reading_outside_the_object(data: bytes) -> None:
    assert _peek(data)[0] is None
