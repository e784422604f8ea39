"""The tenant's tarball: each way it can be wrong maps to one failure cause naming what is wrong."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from afs.devstack.samples import (
    SAMPLE_DATA_CLOCK_MHZ,
    SAMPLE_KERNEL_CLOCK_MHZ,
    SAMPLE_XCLBIN_TIMESTAMP,
    SHELL_TOP,
    sample_partial_bitstream,
    write_sample_dcp,
    write_sample_module_dcp,
    write_sample_xclbin,
)
from afs.errors import FailureCause, ImageBuildError
from afs.inputs.archive import (
    MAX_EXTENDED_HEADER_BYTES,
    MAX_EXTENDED_HEADERS_IN_A_ROW,
    MAX_MANIFEST_DEPTH,
    MAX_MANIFEST_NUMBER_DIGITS,
    ArchiveLimits,
    CheckedInput,
    check_tarball,
    pack,
)
from afs.inputs.bitstream import read_xclbin
from afs.inputs.names import MAX_COMPONENT_BYTES, MAX_COMPONENTS, MAX_NAME_BYTES
from afs.models import FP1_KIT_FLOWS, PCI_ID_FIELDS, KitFlow
from afs.settings import VU9P_PART
from tests.factory import manifest_for

LIMITS = ArchiveLimits(max_members=6, max_member_bytes=1024 * 1024, max_manifest_bytes=4096)
KIT_FLOWS = (
    KitFlow(flow_type="vivado", shell_id="0x01010029", tool_version="2017.2"),
    KitFlow(flow_type="vivado", shell_id="0x01010029", tool_version="2017.4.op"),
)
OTHER_PART = "xcku115-flvb2104-2-e"
DCP_NAME = "ul_pr_top_routed.dcp"
SDACCEL = "split-primary.dcp"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _manifest(dcp: bytes, **overrides: object) -> dict[str, object]:
    """A correct manifest for `dcp`; an override of None removes the field."""
    fields: dict[str, object] = {**manifest_for(dcp), **overrides}
    return {key: value for key, value in fields.items() if value is not None}


def _member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = ""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, (io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _tar(path: Path, members: list) -> Path:
    with tarfile.open(path, "w") as tar:
        for info, data in members:
            tar.addfile(info, data)
    return path


@pytest.fixture
def dcp_bytes(tmp_path: Path) -> bytes:
    return write_sample_dcp(tmp_path / "sample.dcp", payload_bytes=4096).read_bytes()


def _standard(dcp: bytes, manifest: dict | bytes, *extra) -> list:
    manifest_bytes = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    return [_member("manifest.json", manifest_bytes), _member(DCP_NAME, dcp), *extra]


def _check(tar_path: Path, tmp_path: Path, **overrides) -> CheckedInput:
    options = {
        "limits": LIMITS,
        "kit_flows": KIT_FLOWS,
        **overrides,
    }
    return check_tarball(tar_path, tmp_path / "work", **options)


def _fails(tar_path: Path, tmp_path: Path, cause: FailureCause, *named: str, **overrides) -> str:
    """Check the tarball, expect `cause`, and expect the text to name each of `named`."""
    with pytest.raises(ImageBuildError) as caught:
        _check(tar_path, tmp_path, **overrides)
    assert caught.value.cause == cause, caught.value.message
    for fragment in named:
        assert fragment in caught.value.text
    work = tmp_path / "work"
    assert not work.exists() or list(work.iterdir()) == []  # nothing extracted is left behind
    return caught.value.text


# --- the happy paths ------------------------------------------------------------------------------


def test_a_packed_tarball_passes_and_yields_manifest_and_dcp(tmp_path: Path) -> None:
    dcp = write_sample_dcp(tmp_path / DCP_NAME)
    tar_path = tmp_path / "dcp.tar"
    manifest = pack(dcp, tar_path, shell_id="0x01010029", tool_version="2017.2")

    checked = _check(tar_path, tmp_path)

    assert checked.manifest == manifest
    assert checked.dcp.part == VU9P_PART
    assert checked.dcp.top == SHELL_TOP
    assert checked.dcp_sha256 == _sha256(dcp.read_bytes()) == manifest.dcp_sha256
    assert checked.dcp_path == tmp_path / "work" / DCP_NAME
    assert checked.dcp_path.read_bytes() == dcp.read_bytes()
    assert checked.manifest_path == tmp_path / "work" / "manifest.json"
    assert json.loads(checked.manifest_path.read_text()) == manifest.model_dump()
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["manifest.json", DCP_NAME]


def test_dot_slash_prefixes_directories_and_other_files_are_accepted(
    tmp_path: Path, dcp_bytes: bytes
) -> None:
    manifest = json.dumps(_manifest(dcp_bytes, dcp_sha256=_sha256(dcp_bytes).upper())).encode()
    tar_path = _tar(
        tmp_path / "dcp.tar",
        [
            _member("./", kind=tarfile.DIRTYPE),
            _member("./manifest.json", manifest),
            _member("./docs", kind=tarfile.DIRTYPE),
            _member("./docs/README.txt", b"notes"),
            _member(f"././{DCP_NAME}", dcp_bytes),
        ],
    )
    checked = _check(tar_path, tmp_path)
    assert checked.dcp_path.name == DCP_NAME
    assert checked.dcp_sha256 == _sha256(dcp_bytes)  # the manifest's upper-case hex matched


def test_the_part_to_build_is_a_parameter(tmp_path: Path, dcp_bytes: bytes) -> None:
    dcp = write_sample_dcp(tmp_path / "other.dcp", part=OTHER_PART)
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp.read_bytes(), _manifest(dcp.read_bytes())))
    assert _check(tar_path, tmp_path, part=OTHER_PART).dcp.part == OTHER_PART


# --- CORRUPT_ARCHIVE: not a plain tar -------------------------------------------------------------


def test_a_gzip_compressed_tar_is_refused_by_name(tmp_path: Path, dcp_bytes: bytes) -> None:
    plain = _tar(tmp_path / "plain.tar", _standard(dcp_bytes, _manifest(dcp_bytes)))
    compressed = tmp_path / "dcp.tar"
    compressed.write_bytes(gzip.compress(plain.read_bytes()))
    _fails(compressed, tmp_path, FailureCause.CORRUPT_ARCHIVE, "dcp.tar", "gzip", "uncompressed")


@pytest.mark.parametrize(
    "content", [b"", b"this is not a tar archive at all" * 40], ids=["empty", "text"]
)
def test_a_file_that_is_not_a_tar_is_corrupt(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "dcp.tar"
    path.write_bytes(content)
    _fails(path, tmp_path, FailureCause.CORRUPT_ARCHIVE, "dcp.tar", "not a readable tar")


def test_a_tar_cut_short_inside_the_dcp_is_corrupt(tmp_path: Path, dcp_bytes: bytes) -> None:
    whole = _tar(tmp_path / "whole.tar", _standard(dcp_bytes, _manifest(dcp_bytes)))
    with tarfile.open(whole) as tar:
        dcp_starts = tar.getmember(DCP_NAME).offset_data
    path = tmp_path / "dcp.tar"
    path.write_bytes(whole.read_bytes()[: dcp_starts + len(dcp_bytes) // 2])
    _fails(path, tmp_path, FailureCause.CORRUPT_ARCHIVE, "dcp.tar", "unexpected end of data")


# --- CORRUPT_ARCHIVE: unsafe members --------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "named"),
    [
        (_member("evil.dcp", kind=tarfile.SYMTYPE, link="/etc/passwd"), "symbolic link"),
        (_member("link.txt", kind=tarfile.LNKTYPE, link="manifest.json"), "hard link"),
        (_member("null", kind=tarfile.CHRTYPE), "device"),
        (_member("disk", kind=tarfile.BLKTYPE), "device"),
        (_member("pipe", kind=tarfile.FIFOTYPE), "FIFO"),
        (_member("/etc/cron.d/x", b"x"), "absolute path"),
        (_member("../x", b"x"), "'..'"),
        (_member("docs/../../x", b"x"), "'..'"),
        (_member("./../manifest.json", b"{}"), "'..'"),
    ],
    ids=[
        "symlink",
        "hardlink",
        "char-device",
        "block-device",
        "fifo",
        "absolute",
        "dotdot",
        "inner-dotdot",
        "dot-dotdot",
    ],
)
def test_unsafe_members_are_refused(
    tmp_path: Path, dcp_bytes: bytes, member: tuple, named: str
) -> None:
    info, _ = member
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp_bytes, _manifest(dcp_bytes), member))
    _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, repr(info.name), named)


def test_an_unsafe_member_is_refused_even_before_the_manifest(
    tmp_path: Path, dcp_bytes: bytes
) -> None:
    link = _member("manifest.json", kind=tarfile.SYMTYPE, link="/etc/passwd")
    tar_path = _tar(tmp_path / "dcp.tar", [link, _member(DCP_NAME, dcp_bytes)])
    _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, "symbolic link")


@pytest.mark.parametrize(
    ("first", "second"),
    [("manifest.json", "./manifest.json"), (DCP_NAME, "other.dcp")],
    ids=["manifests", "dcps"],
)
def test_a_second_manifest_or_dcp_is_corrupt(
    tmp_path: Path, dcp_bytes: bytes, first: str, second: str
) -> None:
    manifest = json.dumps(_manifest(dcp_bytes)).encode()
    members = [_member("manifest.json", manifest), _member(DCP_NAME, dcp_bytes)]
    members.append(_member(second, manifest if second.endswith(".json") else dcp_bytes))
    tar_path = _tar(tmp_path / "dcp.tar", members)
    _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, "more than one", first, second)


# --- INPUT_SIZE_ILLEGAL ---------------------------------------------------------------------------


def test_too_many_members(tmp_path: Path, dcp_bytes: bytes) -> None:
    extras = [_member(f"notes{i}.txt", b"x") for i in range(LIMITS.max_members - 1)]
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp_bytes, _manifest(dcp_bytes), *extras))
    text = _fails(tar_path, tmp_path, FailureCause.INPUT_SIZE_ILLEGAL, "dcp.tar")
    assert str(LIMITS.max_members) in text


def test_as_many_members_as_allowed_passes(tmp_path: Path, dcp_bytes: bytes) -> None:
    extras = [_member(f"notes{i}.txt", b"x") for i in range(LIMITS.max_members - 2)]
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp_bytes, _manifest(dcp_bytes), *extras))
    assert _check(tar_path, tmp_path).dcp.part == VU9P_PART


@pytest.mark.parametrize("name", ["huge.bin", DCP_NAME])
def test_a_member_larger_than_allowed(tmp_path: Path, name: str) -> None:
    big = os.urandom(LIMITS.max_member_bytes + 1)
    members = [_member("manifest.json", json.dumps(_manifest(big)).encode()), _member(name, big)]
    tar_path = _tar(tmp_path / "dcp.tar", members)
    _fails(
        tar_path,
        tmp_path,
        FailureCause.INPUT_SIZE_ILLEGAL,
        repr(name),
        str(LIMITS.max_member_bytes),
    )


# --- MANIFEST_NOT_FOUND / DCP_NOT_FOUND -----------------------------------------------------------


def test_no_manifest(tmp_path: Path, dcp_bytes: bytes) -> None:
    tar_path = _tar(tmp_path / "dcp.tar", [_member(DCP_NAME, dcp_bytes)])
    _fails(tar_path, tmp_path, FailureCause.MANIFEST_NOT_FOUND, "manifest.json", "dcp.tar")


def test_a_manifest_in_a_subdirectory_is_not_found_and_named(
    tmp_path: Path, dcp_bytes: bytes
) -> None:
    manifest = json.dumps(_manifest(dcp_bytes)).encode()
    members = [_member("kit/manifest.json", manifest), _member(DCP_NAME, dcp_bytes)]
    tar_path = _tar(tmp_path / "dcp.tar", members)
    _fails(tar_path, tmp_path, FailureCause.MANIFEST_NOT_FOUND, "'kit/manifest.json'", "root")


def test_no_dcp(tmp_path: Path, dcp_bytes: bytes) -> None:
    manifest = json.dumps(_manifest(dcp_bytes)).encode()
    members = [_member("manifest.json", manifest), _member("kit/design.dcp", dcp_bytes)]
    tar_path = _tar(tmp_path / "dcp.tar", members)
    _fails(tar_path, tmp_path, FailureCause.DCP_NOT_FOUND, ".dcp", "'kit/design.dcp'")


# --- MANIFEST_PARSE_FAILED ------------------------------------------------------------------------


def test_a_manifest_larger_than_allowed(tmp_path: Path, dcp_bytes: bytes) -> None:
    manifest = _manifest(dcp_bytes, comment="x" * LIMITS.max_manifest_bytes)
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp_bytes, manifest))
    _fails(tar_path, tmp_path, FailureCause.MANIFEST_PARSE_FAILED, str(LIMITS.max_manifest_bytes))


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (b'{"version": "2.0",', "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'["version", "2.0"]', "must be a JSON object"),
        (b'"manifest"', "must be a JSON object"),
    ],
)
def test_a_manifest_that_is_not_a_json_object(
    tmp_path: Path, dcp_bytes: bytes, content: bytes, named: str
) -> None:
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp_bytes, content))
    _fails(tar_path, tmp_path, FailureCause.MANIFEST_PARSE_FAILED, named)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("hdk_version", {"major": 1}, "'hdk_version' must be a string, got dict"),
        ("version", 2.0, "'version' must be a string, got float"),
        ("pci_device_id", 0xD503, "'pci_device_id' must be a string, got int"),
        ("extra_field", ["x"], "'extra_field' must be a string, got list"),
        ("flow_type", "hls", "'flow_type'"),
        ("create_time", "2024-05-01T12:00:00Z", "'create_time'"),
        ("dcp_sha256", "abc123", "'dcp_sha256'"),
    ],
)
def test_a_manifest_field_of_the_wrong_kind(
    tmp_path: Path, dcp_bytes: bytes, field: str, value: object, named: str
) -> None:
    tar_path = _tar(
        tmp_path / "dcp.tar", _standard(dcp_bytes, _manifest(dcp_bytes, **{field: value}))
    )
    _fails(tar_path, tmp_path, FailureCause.MANIFEST_PARSE_FAILED, named)


@pytest.mark.parametrize("field", ["version", "shell_id", "pci_device_id", "dcp_sha256"])
def test_a_missing_manifest_field_is_named(tmp_path: Path, dcp_bytes: bytes, field: str) -> None:
    manifest = _manifest(dcp_bytes)
    del manifest[field]
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp_bytes, manifest))
    _fails(tar_path, tmp_path, FailureCause.MANIFEST_PARSE_FAILED, f"lacks the field(s) {field}")


def test_a_duplicated_manifest_field_is_refused(tmp_path: Path, dcp_bytes: bytes) -> None:
    body = json.dumps(_manifest(dcp_bytes))
    content = (body[:-1] + ', "dcp_sha256": "' + "0" * 64 + '"}').encode()
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp_bytes, content))
    _fails(tar_path, tmp_path, FailureCause.MANIFEST_PARSE_FAILED, "'dcp_sha256' appears twice")


def test_a_missing_field_outranks_a_bad_pci_id(tmp_path: Path, dcp_bytes: bytes) -> None:
    manifest = _manifest(dcp_bytes, pci_device_id="D503", hdk_version=None)
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp_bytes, manifest))
    _fails(tar_path, tmp_path, FailureCause.MANIFEST_PARSE_FAILED, "lacks the field(s) hdk_version")


# --- PCIID_SYNTAX_INVALID -------------------------------------------------------------------------


@pytest.mark.parametrize("field", PCI_ID_FIELDS)
@pytest.mark.parametrize("value", ["D503", "0xD50", "0xD5031", "0xZZZZ", "0XD503", ""])
def test_a_bad_pci_id_is_named(tmp_path: Path, dcp_bytes: bytes, field: str, value: str) -> None:
    tar_path = _tar(
        tmp_path / "dcp.tar", _standard(dcp_bytes, _manifest(dcp_bytes, **{field: value}))
    )
    _fails(tar_path, tmp_path, FailureCause.PCIID_SYNTAX_INVALID, field, repr(value))


def test_manifest_checks_come_before_dcp_checks(tmp_path: Path) -> None:
    garbage = b"not a zip"
    manifest = _manifest(garbage, pci_subsystem_id="0x12", dcp_sha256="0" * 64)
    tar_path = _tar(tmp_path / "dcp.tar", _standard(garbage, manifest))
    _fails(tar_path, tmp_path, FailureCause.PCIID_SYNTAX_INVALID, "pci_subsystem_id")


# --- SHELL_VERSION_INVALID / TOOL_VERSION_INVALID -------------------------------------------------


@pytest.mark.parametrize("shell_id", ["0x01210101", "0x0101002", "shell-1"])
def test_a_shell_not_allowed(tmp_path: Path, dcp_bytes: bytes, shell_id: str) -> None:
    tar_path = _tar(
        tmp_path / "dcp.tar", _standard(dcp_bytes, _manifest(dcp_bytes, shell_id=shell_id))
    )
    _fails(tar_path, tmp_path, FailureCause.SHELL_VERSION_INVALID, repr(shell_id))


def test_the_kits_pairings_are_a_parameter(tmp_path: Path, dcp_bytes: bytes) -> None:
    manifest = _manifest(dcp_bytes, shell_id="0x01010030", tool_version="2018.3")
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp_bytes, manifest))
    pairing = KitFlow(flow_type="vivado", shell_id="0x01010030", tool_version="2018.3")
    checked = _check(tar_path, tmp_path, kit_flows=[pairing])
    assert checked.manifest.shell_id == "0x01010030"


@pytest.mark.parametrize(
    ("overrides", "cause", "named"),
    [
        ({"flow_type": "sdaccel"}, FailureCause.SHELL_VERSION_INVALID, "shell of the vivado flow"),
        (
            {"shell_id": "0x01210101"},
            FailureCause.SHELL_VERSION_INVALID,
            "shell of the sdaccel flow, not of the vivado flow",
        ),
        (
            {"flow_type": "sdaccel", "shell_id": "0x01210101", "tool_version": "2017.2"},
            FailureCause.TOOL_VERSION_INVALID,
            "'2017.2' is not the sdaccel flow's on shell 0x01210101 (2017.4.op)",
        ),
    ],
    ids=["sdaccel-on-vivado-shell", "vivado-on-sdaccel-shell", "sdaccel-with-vivado-tool"],
)
def test_a_manifest_that_breaks_the_kits_pairing_is_refused_with_its_cause(
    tmp_path: Path, dcp_bytes: bytes, overrides: dict, cause: FailureCause, named: str
) -> None:
    sdaccel = {"xclbin_timestamp": "1514764800", "clock_freq": "250", "clock_freq2": "500"}
    fields = {**overrides, **(sdaccel if overrides.get("flow_type") == "sdaccel" else {})}
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp_bytes, _manifest(dcp_bytes, **fields)))
    _fails(tar_path, tmp_path, cause, named, kit_flows=FP1_KIT_FLOWS)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"clock_freq": None}, "needs the field(s) clock_freq"),
        ({"clock_freq2": "250MHz"}, "'clock_freq2' '250MHz' must be a whole number of MHz"),
        ({"clock_freq": "0"}, "'clock_freq' '0' must be a whole number of MHz"),
        ({"xclbin_timestamp": "2018-01-01"}, "'xclbin_timestamp' '2018-01-01' must be a whole"),
    ],
    ids=["missing-clock", "clock-with-unit", "zero-clock", "timestamp-not-seconds"],
)
def test_an_sdaccel_manifest_needs_its_own_fields_well_formed(
    tmp_path: Path, dcp_bytes: bytes, fields: dict, named: str
) -> None:
    sdaccel = {"xclbin_timestamp": "1514764800", "clock_freq": "250", "clock_freq2": "500"}
    manifest = _manifest(
        dcp_bytes,
        flow_type="sdaccel",
        shell_id="0x01210101",
        tool_version="2017.4.op",
        **{**sdaccel, **fields},
    )
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp_bytes, manifest))
    _fails(tar_path, tmp_path, FailureCause.MANIFEST_PARSE_FAILED, named, kit_flows=FP1_KIT_FLOWS)


def test_a_bitstream_in_place_of_the_checkpoint_is_refused_saying_how_the_kit_compiles(
    tmp_path: Path,
) -> None:
    bitstream = sample_partial_bitstream()
    manifest = _manifest(
        bitstream,
        flow_type="sdaccel",
        shell_id="0x01210101",
        tool_version="2017.4.op",
        xclbin_timestamp="1514764800",
        clock_freq="250",
        clock_freq2="500",
    )
    tar_path = _tar(
        tmp_path / "dcp.tar",
        [_member("manifest.json", json.dumps(manifest).encode()), _member(SDACCEL, bitstream)],
    )
    text = _fails(
        tar_path,
        tmp_path,
        FailureCause.DCP_IS_BITSTREAM,
        SDACCEL,
        "partial bitstream for part 'xcvu9p-flgb2104-2-i'",
        "acceleratorBinaryContent=dcp",
        kit_flows=FP1_KIT_FLOWS,
    )
    assert not (tmp_path / "work" / SDACCEL).exists()
    assert "/" not in text.replace("N/A", "")  # no host path


def test_a_tool_version_not_allowed(tmp_path: Path, dcp_bytes: bytes) -> None:
    tar_path = _tar(
        tmp_path / "dcp.tar", _standard(dcp_bytes, _manifest(dcp_bytes, tool_version="2018.3"))
    )
    _fails(tar_path, tmp_path, FailureCause.TOOL_VERSION_INVALID, "'2018.3'", "2017.2")


# --- DCP_INTEGRITY_UNVERIFIED ---------------------------------------------------------------------


def test_a_dcp_whose_hash_differs_from_the_manifest(tmp_path: Path) -> None:
    dcp = write_sample_dcp(tmp_path / DCP_NAME)
    tar_path = tmp_path / "dcp.tar"
    claimed = "AB" * 32
    pack(dcp, tar_path, shell_id="0x01010029", tool_version="2017.2", dcp_sha256=claimed)
    _fails(
        tar_path,
        tmp_path,
        FailureCause.DCP_INTEGRITY_UNVERIFIED,
        DCP_NAME,
        _sha256(dcp.read_bytes()),
        claimed.lower(),
    )


def test_integrity_outranks_a_corrupt_dcp(tmp_path: Path, dcp_bytes: bytes) -> None:
    damaged = dcp_bytes[: len(dcp_bytes) // 2]  # e.g. cut short on its way to the bucket
    tar_path = _tar(tmp_path / "dcp.tar", _standard(damaged, _manifest(dcp_bytes)))
    _fails(tar_path, tmp_path, FailureCause.DCP_INTEGRITY_UNVERIFIED, _sha256(damaged))


# --- DCP_CORRUPT / PART_MISMATCH ------------------------------------------------------------------


def _zip(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("dcp", "named"),
    [
        (b"PK\x03\x04 but not really a zip", "not a ZIP"),
        (_zip({"design.edf": "(edif)"}), "no dcp.xml"),
        (_zip({"dcp.xml": "<Root><Checkpoint"}), "not well-formed"),
        (_zip({"dcp.xml": "<Root/>"}), "no <Checkpoint>"),
    ],
    ids=["not-zip", "no-dcp-xml", "bad-xml", "no-checkpoint"],
)
def test_a_dcp_that_cannot_be_read(tmp_path: Path, dcp: bytes, named: str) -> None:
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp, _manifest(dcp)))
    _fails(tar_path, tmp_path, FailureCause.DCP_CORRUPT, named)


def test_a_dcp_for_another_part(tmp_path: Path) -> None:
    dcp = write_sample_dcp(tmp_path / "other.dcp", part=OTHER_PART).read_bytes()
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp, _manifest(dcp)))
    _fails(tar_path, tmp_path, FailureCause.PART_MISMATCH, DCP_NAME, OTHER_PART, VU9P_PART)


# --- pack -----------------------------------------------------------------------------------------


def test_pack_writes_the_vivado_flow_as_the_kit_does(tmp_path: Path) -> None:
    dcp = write_sample_dcp(tmp_path / DCP_NAME)
    tar_path = tmp_path / "out" / "dcp.tar"
    beijing = timezone(timedelta(hours=8))
    manifest = pack(
        dcp,
        tar_path,
        shell_id="0x01010029",
        tool_version="2017.2",
        kit_flows=FP1_KIT_FLOWS,
        create_time=datetime(2024, 5, 1, 20, 30, 5, tzinfo=beijing),
    )

    # The kit's `tar cf dcp.tar ./*.dcp ./manifest.json`.
    with tarfile.open(tar_path, "r:") as tar:
        assert [m.name for m in tar] == [f"./{DCP_NAME}", "./manifest.json"]
        assert all(m.isreg() and m.uname == "" for m in tar.getmembers())
        written = json.loads(tar.extractfile("./manifest.json").read())
        assert tar.extractfile(f"./{DCP_NAME}").read() == dcp.read_bytes()
    assert written == manifest.model_dump()
    assert written == {
        "version": "2.0",
        "fpga_board": "vu9p_vb",
        "fpga_vendor": "xilinx",
        "fpga_chip": "vu9p",
        "bitstream_format": "bin",
        "flow_type": "vivado",
        "shell_id": "0x01010029",
        "pci_vendor_id": "0x19e5",
        "pci_device_id": "0xD503",
        "pci_subsystem_id": "0x2000",
        "pci_subsystem_vendor_id": "0x19e5",
        "hdk_version": "v1.2.1",
        "tool_version": "2017.2",
        "create_time": "2024-05-01 12:30:05",  # UTC
        "dcp_sha256": _sha256(dcp.read_bytes()),
    }
    assert sorted(p.name for p in tar_path.parent.iterdir()) == ["dcp.tar"]


def test_pack_writes_the_sdaccel_flow_from_its_xclbin_as_the_kit_does(tmp_path: Path) -> None:
    xclbin = write_sample_xclbin(tmp_path / "vadd.xclbin")
    tar_path = tmp_path / "dcp.tar"
    manifest = pack(
        xclbin, tar_path, shell_id="0x01210101", tool_version="2017.4.op", kit_flows=FP1_KIT_FLOWS
    )

    # xclbinsplit's split-primary.bit, renamed split-primary.dcp (AEI_Register.sh).
    with tarfile.open(tar_path, "r:") as tar:
        assert [m.name for m in tar] == ["./split-primary.dcp", "./manifest.json"]
        checkpoint = tar.extractfile("./split-primary.dcp").read()
    info = read_xclbin(xclbin)
    assert checkpoint == xclbin.read_bytes()[info.primary.offset :][: info.primary.size]
    assert checkpoint.startswith(b"PK")  # a checkpoint: xocc ran with acceleratorBinaryContent=dcp
    # create_sdaccel_metadata.py's fields: the kit's PCI ids and the xclbin's timestamp and clocks.
    assert manifest.model_dump() | {"create_time": "-"} == {
        "version": "2.0",
        "fpga_board": "vu9p_vb",
        "fpga_vendor": "xilinx",
        "fpga_chip": "vu9p",
        "bitstream_format": "bin",
        "flow_type": "sdaccel",
        "shell_id": "0x01210101",
        "pci_vendor_id": "0x19e5",
        "pci_device_id": "0xD512",
        "pci_subsystem_id": "0x4341",
        "pci_subsystem_vendor_id": "0x10ee",
        "hdk_version": "v1.2.1",
        "tool_version": "2017.4.op",
        "create_time": "-",
        "dcp_sha256": _sha256(checkpoint),
        "xclbin_timestamp": str(SAMPLE_XCLBIN_TIMESTAMP),
        "clock_freq": str(SAMPLE_DATA_CLOCK_MHZ),
        "clock_freq2": str(SAMPLE_KERNEL_CLOCK_MHZ),
    }
    checked = _check(tar_path, tmp_path, kit_flows=FP1_KIT_FLOWS)
    assert checked.dcp_path.name == "split-primary.dcp"
    assert checked.manifest.model_extra == {
        "xclbin_timestamp": "1514764800",
        "clock_freq": "250",
        "clock_freq2": "500",
    }


@pytest.mark.parametrize(
    ("shell_id", "tool_version", "reason"),
    [
        ("0x01010029", "2017.2", "'0x01010029' is a shell of the vivado flow, not of the sdaccel"),
        ("0x01210101", "2017.2", "tool_version '2017.2' is not the sdaccel flow's"),
        ("0x01010030", "2017.4.op", "shell_id '0x01010030' is not one of 0x01010029, 0x01210101"),
    ],
)
def test_pack_refuses_what_breaks_the_kits_pairing_before_writing_anything(
    tmp_path: Path, shell_id: str, tool_version: str, reason: str
) -> None:
    xclbin = write_sample_xclbin(tmp_path / "vadd.xclbin")
    with pytest.raises(ValueError, match=reason):
        pack(
            xclbin,
            tmp_path / "out.tar",
            shell_id=shell_id,
            tool_version=tool_version,
            kit_flows=FP1_KIT_FLOWS,
        )
    assert not (tmp_path / "out.tar").exists()


def test_pack_refuses_an_xclbin_that_holds_a_bitstream_saying_how_the_kit_compiles(
    tmp_path: Path,
) -> None:
    xclbin = write_sample_xclbin(tmp_path / "vadd.xclbin", primary=sample_partial_bitstream())
    with pytest.raises(ValueError, match="acceleratorBinaryContent=dcp") as caught:
        pack(xclbin, tmp_path / "out.tar", shell_id="0x01210101", tool_version="2017.4.op")
    assert "partial bitstream for part 'xcvu9p-flgb2104-2-i'" in str(caught.value)
    assert list(tmp_path.iterdir()) == [xclbin]


def test_pack_stamps_the_current_utc_time(tmp_path: Path) -> None:
    dcp = write_sample_dcp(tmp_path / DCP_NAME)
    before = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    manifest = pack(dcp, tmp_path / "dcp.tar", shell_id="0x01010029", tool_version="2017.2")
    stamped = datetime.strptime(manifest.create_time, "%Y-%m-%d %H:%M:%S")
    assert before <= stamped <= before + timedelta(minutes=1)


def test_pack_packs_the_file_a_symlink_points_to(tmp_path: Path) -> None:
    real = write_sample_dcp(tmp_path / "real.dcp")
    link = tmp_path / DCP_NAME
    link.symlink_to(real)
    pack(link, tmp_path / "dcp.tar", shell_id="0x01010029", tool_version="2017.2")
    assert _check(tmp_path / "dcp.tar", tmp_path).dcp_path.read_bytes() == real.read_bytes()


def _junk(path: Path) -> Path:
    path.write_bytes(b"junk")
    return path


@pytest.mark.parametrize(
    ("make_dcp", "options", "reason"),
    [
        (lambda p: write_sample_dcp(p / "x.dcp", part=OTHER_PART), {}, OTHER_PART),
        (lambda p: _junk(p / "x.dcp"), {}, "x.dcp is not a ZIP archive"),
        (lambda p: write_sample_dcp(p / "x.zip"), {}, r"/src/x.zip: not a design checkpoint"),
        (lambda p: write_sample_dcp(p / "x.dcp"), {"pci_device_id": "D503"}, "pci_device_id"),
        (lambda p: write_sample_dcp(p / "x.dcp"), {"shell_id": "1"}, "shell_id"),
        (
            lambda p: write_sample_module_dcp(p / "ul_pr_top_post_synth.dcp"),
            {},
            "out of context .* to_facs/<prj>_routed.dcp",
        ),
    ],
    ids=["other-part", "not-a-dcp", "not-dcp-name", "bad-pci-id", "bad-shell", "module-only"],
)
def test_pack_refuses_before_writing_anything(
    tmp_path: Path, make_dcp, options: dict, reason: str
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    dcp = make_dcp(source)
    out = tmp_path / "out"
    out.mkdir()
    arguments = {"shell_id": "0x01010029", "tool_version": "2017.2", **options}
    with pytest.raises(ValueError, match=reason) as caught:
        pack(dcp, out / "dcp.tar", **arguments)
    assert "\n" not in str(caught.value)
    assert list(out.iterdir()) == []


def test_a_member_name_that_is_not_utf8_is_a_corrupt_archive(tmp_path: Path) -> None:
    tar_path = tmp_path / "dcp.tar"
    with tarfile.open(tar_path, "w", format=tarfile.GNU_FORMAT, encoding="latin-1") as tar:
        tar.addfile(*_member("caf\xe9.dcp", b"x"))
    text = _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, "not printable UTF-8")
    text.encode("utf-8")  # the message itself can be stored and shown


def test_an_oversized_pax_header_is_refused_before_tarfile_reads_it(
    tmp_path: Path, dcp_bytes: bytes
) -> None:
    tar_path = tmp_path / "dcp.tar"
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        info, data = _member(DCP_NAME, dcp_bytes)
        info.pax_headers = {"comment": "x" * (MAX_EXTENDED_HEADER_BYTES + 1)}
        tar.addfile(info, data)
    _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, "extended header")


def _with_raw_pax_header(tar_path: Path, records: bytes, dcp_bytes: bytes) -> Path:
    """The standard tarball behind one pax header holding `records` as they are."""
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, len(records)
    with tar_path.open("wb") as out:
        out.write(header.tobuf(format=tarfile.USTAR_FORMAT))
        out.write(records + b"\0" * (-len(records) % 512))
        with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for info, data in _standard(dcp_bytes, _manifest(dcp_bytes)):
                tar.addfile(info, data)
    return tar_path


@pytest.mark.parametrize(
    "records",
    [
        b"1" * 60_000,  # this Python's tarfile spends seconds on it (CVE-2024-6232)
        b"0" * 60_000,
        b"30 comment=length says more\n",
        b"12 comment\n",  # no '='
        b"x1 a=b\n",
    ],
    ids=["digits", "zeros", "wrong-length", "no-equals", "no-length"],
)
def test_a_malformed_pax_header_is_refused_before_tarfile_parses_it(
    tmp_path: Path, dcp_bytes: bytes, records: bytes
) -> None:
    tar_path = _with_raw_pax_header(tmp_path / "dcp.tar", records, dcp_bytes)
    _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, "pax header at byte 0 is malformed")


def test_a_sound_pax_header_padded_with_nuls_is_accepted(tmp_path: Path, dcp_bytes: bytes) -> None:
    tar_path = _with_raw_pax_header(tmp_path / "dcp.tar", b"15 comment=abc\n\0\0\0", dcp_bytes)
    assert _check(tar_path, tmp_path).manifest.shell_id == "0x01010029"


def test_ordinary_pax_headers_are_accepted(tmp_path: Path, dcp_bytes: bytes) -> None:
    tar_path = tmp_path / "dcp.tar"
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in _standard(dcp_bytes, _manifest(dcp_bytes)):
            info.pax_headers = {"comment": "written by a tool that adds pax headers"}
            tar.addfile(info, data)
    assert _check(tar_path, tmp_path).manifest.shell_id == "0x01010029"


def test_random_bytes_are_a_corrupt_archive(tmp_path: Path) -> None:
    tar_path = tmp_path / "dcp.tar"
    # Random, but never starting like a compressed file (whose refusal names its format).
    tar_path.write_bytes(b"\x00" + os.urandom(9 * 1024 * 1024))
    _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, "not a readable tar")


# --- hostile input: every limit is the tenant's, checked before the parser or the file system ----


def _nested(depth: int) -> bytes:
    """A manifest whose structure is `depth` levels deep, alternating objects and arrays."""
    opening = "".join('{"x": ' if level % 2 == 0 else "[" for level in range(depth))
    closing = "".join("}" if level % 2 == 0 else "]" for level in reversed(range(depth)))
    return (opening + '"v"' + closing).encode()


@pytest.mark.parametrize(
    "content",
    [b"[" * 30_000, b'{"a": ' * 30_000, _nested(30_000), _nested(MAX_MANIFEST_DEPTH + 1)],
    ids=["arrays", "objects", "mixed", "one-too-deep"],
)
def test_a_manifest_nested_too_deep_is_refused_before_the_parser_recurses(
    tmp_path: Path, dcp_bytes: bytes, content: bytes
) -> None:
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp_bytes, content))
    _fails(
        tar_path,
        tmp_path,
        FailureCause.MANIFEST_PARSE_FAILED,
        f"manifest.json nests deeper than {MAX_MANIFEST_DEPTH} levels",
        limits=LIMITS.model_copy(update={"max_manifest_bytes": 200_000}),
    )


def test_a_manifest_as_deep_as_allowed_gets_the_ordinary_refusal(
    tmp_path: Path, dcp_bytes: bytes
) -> None:
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp_bytes, _nested(MAX_MANIFEST_DEPTH)))
    _fails(tar_path, tmp_path, FailureCause.MANIFEST_PARSE_FAILED, "'x' must be a string, got list")


def test_brackets_inside_strings_are_not_nesting(tmp_path: Path, dcp_bytes: bytes) -> None:
    manifest = _manifest(dcp_bytes, comment='[{"\\"[' * 200)
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp_bytes, manifest))
    assert _check(tar_path, tmp_path).manifest.model_extra == {"comment": '[{"\\"[' * 200}


def test_a_number_too_long_for_python_is_refused_naming_its_length(
    tmp_path: Path, dcp_bytes: bytes
) -> None:
    # Python's int() refuses more than 4300 digits with a ValueError of its own.
    content = b'{"version": ' + b"9" * 5000 + b"}"
    tar_path = _tar(tmp_path / "dcp.tar", _standard(dcp_bytes, content))
    _fails(
        tar_path,
        tmp_path,
        FailureCause.MANIFEST_PARSE_FAILED,
        "a number of 5000 digits",
        str(MAX_MANIFEST_NUMBER_DIGITS),
        limits=LIMITS.model_copy(update={"max_manifest_bytes": 200_000}),
    )


def _long_named(tmp_path: Path, name: str, dcp_bytes: bytes, *, tar_format: int) -> Path:
    tar_path = tmp_path / "dcp.tar"
    with tarfile.open(tar_path, "w", format=tar_format) as tar:
        manifest = json.dumps(_manifest(dcp_bytes)).encode()
        for info, data in [_member("manifest.json", manifest), _member(name, dcp_bytes)]:
            tar.addfile(info, data)
    return tar_path


@pytest.mark.parametrize("tar_format", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT], ids=["gnu", "pax"])
@pytest.mark.parametrize(
    ("name", "named"),
    [
        # 300 bytes: more than any file system takes (ENAMETOOLONG on extraction).
        ("x" * 296 + ".dcp", f"a path component of 300 bytes; the limit is {MAX_COMPONENT_BYTES}"),
        # 250 bytes: a file system takes it, but not the temporary name written beside it.
        ("x" * 246 + ".dcp", f"a path component of 250 bytes; the limit is {MAX_COMPONENT_BYTES}"),
        # 43 characters, 130 bytes of UTF-8: the limit counts bytes, as file systems do.
        ("设" * 42 + ".dcp", "a path component of 130 bytes"),
        ("d/" * 20 + "x" * 1100, f"is 1140 bytes; the limit is {MAX_NAME_BYTES} bytes in all"),
        ("/".join(["d"] * (MAX_COMPONENTS + 1)), f"has {MAX_COMPONENTS + 1} path components"),
    ],
    ids=["300-bytes", "250-bytes", "multibyte", "long-path", "deep-path"],
)
def test_a_member_name_beyond_the_limits_is_refused_naming_the_rule(
    tmp_path: Path, dcp_bytes: bytes, tar_format: int, name: str, named: str
) -> None:
    tar_path = _long_named(tmp_path, name, dcp_bytes, tar_format=tar_format)
    text = _fails(tar_path, tmp_path, FailureCause.INPUT_SIZE_ILLEGAL, "member name", named)
    assert len(text) < 300  # the name itself is cut short in the message


def test_a_dcp_name_as_long_as_allowed_is_extracted(tmp_path: Path, dcp_bytes: bytes) -> None:
    name = "x" * (MAX_COMPONENT_BYTES - len(".dcp")) + ".dcp"
    tar_path = _long_named(tmp_path, name, dcp_bytes, tar_format=tarfile.GNU_FORMAT)
    assert _check(tar_path, tmp_path).dcp_path.name == name


@pytest.mark.parametrize(
    "name", ["a\x01.dcp", "a\x1b[2J.dcp", "a\x7f.dcp", "a\u0085.dcp", "a\u202e.dcp", "a\n.dcp"]
)
def test_a_member_name_with_a_control_character_is_refused(
    tmp_path: Path, dcp_bytes: bytes, name: str
) -> None:
    tar_path = _long_named(tmp_path, name, dcp_bytes, tar_format=tarfile.PAX_FORMAT)
    text = _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, "not printable", repr(name))
    assert text.isprintable()


def test_a_huge_link_target_is_cut_short_in_the_message(tmp_path: Path, dcp_bytes: bytes) -> None:
    link = _member("evil.txt", kind=tarfile.SYMTYPE, link="t/" * 30_000)
    tar_path = tmp_path / "dcp.tar"
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in _standard(dcp_bytes, _manifest(dcp_bytes), link):
            tar.addfile(info, data)
    text = _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, "symbolic link")
    assert len(text) < 300


def _record(keyword: bytes, value: bytes) -> bytes:
    """One pax record, `LENGTH KEYWORD=VALUE\\n`, LENGTH counting the whole record."""
    body = b" " + keyword + b"=" + value + b"\n"
    length = len(body) + 1
    length += len(str(length + len(str(length)))) - 1
    record = str(length).encode() + body
    assert len(record) == length
    return record


@pytest.mark.parametrize(
    "records",
    [
        _record(b"GNU.sparse.map", b"abc") + _record(b"GNU.sparse.major", b"0"),
        _record(b"GNU.sparse.size", b"zz"),
        _record(b"GNU.sparse.major", b"1") + _record(b"GNU.sparse.minor", b"0"),
        _record(b"GNU.sparse.name", b"x" * 300),
    ],
    ids=["map-0.1", "size-0.0", "format-1.0", "name"],
)
def test_a_pax_header_describing_a_sparse_file_is_refused_before_tarfile_reads_it(
    tmp_path: Path, dcp_bytes: bytes, records: bytes
) -> None:
    # tarfile converts these with int() and unpacking of its own: a ValueError, not a TarError.
    tar_path = _with_raw_pax_header(tmp_path / "dcp.tar", records, dcp_bytes)
    _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, "pax header at byte 0", "sparse file")


def test_a_pax_header_that_is_not_utf8_is_refused(tmp_path: Path, dcp_bytes: bytes) -> None:
    # tarfile decodes a hdrcharset value strictly, wherever in the header it finds one.
    records = _record(b"comment", _record(b"hdrcharset", b"\xff").rstrip(b"\n"))
    tar_path = _with_raw_pax_header(tmp_path / "dcp.tar", records, dcp_bytes)
    _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, "pax header at byte 0", "UTF-8")


def _with_size(tar_path: Path, dcp_bytes: bytes, member: str, size: int) -> Path:
    """The standard tarball plus a `member`, whose size field says `size` (GNU base-256)."""
    members = [*_standard(dcp_bytes, _manifest(dcp_bytes)), _member(member, b"x")]
    data = bytearray(_tar(tar_path, members).read_bytes())
    header = data.index(member.encode() + b"\0")
    data[header + 124 : header + 136] = b"\xff" + (size % 256**11).to_bytes(11, "big")
    data[header + 148 : header + 156] = b" " * 8
    data[header + 148 : header + 156] = b"%06o\0 " % sum(data[header : header + 512])
    tar_path.write_bytes(bytes(data))
    return tar_path


@pytest.mark.parametrize("size", [-1, -2048, -(10**9)])
def test_a_negative_member_size_is_refused_before_tarfile_seeks_by_it(
    tmp_path: Path, dcp_bytes: bytes, size: int
) -> None:
    tar_path = _with_size(tmp_path / "dcp.tar", dcp_bytes, "notes.txt", size)
    _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, "'notes.txt'", f"size {size}")


@pytest.mark.parametrize("size", ["-2048", "2048", "1" * 30])
def test_a_pax_header_overriding_a_size_is_refused(
    tmp_path: Path, dcp_bytes: bytes, size: str
) -> None:
    # Only members over 8 GiB need one; tarfile seeks by it, and it makes a second size to check.
    tar_path = tmp_path / "dcp.tar"
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        info, data = _member("notes.txt", b"x")
        info.pax_headers = {"size": size}
        for entry, content in [*_standard(dcp_bytes, _manifest(dcp_bytes)), (info, data)]:
            tar.addfile(entry, content)
    _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, "pax header at byte", "size")


def _header(kind: bytes, size_field: bytes, name: str = "././@LongLink") -> bytes:
    """One tar header block of `kind` whose size field holds `size_field` as it is."""
    block = bytearray(tarfile.TarInfo(name).tobuf(format=tarfile.USTAR_FORMAT))
    block[156:157] = kind
    block[124:136] = size_field
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def _base256(number: int) -> bytes:
    return (b"\xff" if number < 0 else b"\x80") + (number % 256**11).to_bytes(11, "big")


def _behind(tmp_path: Path, dcp_bytes: bytes, *blocks: bytes) -> Path:
    """The standard tarball behind `blocks` as they are."""
    tar_path = tmp_path / "dcp.tar"
    with tar_path.open("wb") as out:
        out.write(b"".join(blocks))
        with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for info, data in _standard(dcp_bytes, _manifest(dcp_bytes)):
                tar.addfile(info, data)
    return tar_path


@pytest.mark.parametrize("kind", [b"x", b"g", b"X", b"L", b"K"])
@pytest.mark.parametrize("size", [2**80, 2**40, -1024], ids=["2**80", "2**40", "negative"])
def test_an_extended_header_of_an_impossible_size_is_refused_before_tarfile_reads_it(
    tmp_path: Path, dcp_bytes: bytes, kind: bytes, size: int
) -> None:
    # tarfile reads such a header in one piece: OverflowError, MemoryError, or a ValueError.
    tar_path = _behind(tmp_path, dcp_bytes, _header(kind, _base256(size)))
    _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, f"extended header of {size} bytes")


@pytest.mark.parametrize("kind", [b"x", b"L"])
def test_extended_headers_in_a_long_row_are_refused_before_tarfile_recurses(
    tmp_path: Path, dcp_bytes: bytes, kind: bytes
) -> None:
    data = _record(b"comment", b"") if kind == b"x" else b"long-name\0"
    one = _header(kind, b"%011o\0" % len(data)) + data.ljust(512, b"\0")
    tar_path = _behind(tmp_path, dcp_bytes, one * 2000)
    _fails(
        tar_path,
        tmp_path,
        FailureCause.CORRUPT_ARCHIVE,
        f"more than {MAX_EXTENDED_HEADERS_IN_A_ROW} extended headers in a row",
    )


@pytest.mark.parametrize(
    ("hiding", "size_field"),
    [
        # tarfile skips no data of a directory, whatever size it declares: what follows is read
        # as the next header.
        (tarfile.DIRTYPE, b"%011o\0" % 512),
        # tarfile reads a number up to its NUL, and ignores what follows.
        (tarfile.REGTYPE, b"0000001000\0x"),
    ],
    ids=["directory-with-a-size", "nul-terminated-size"],
)
def test_the_headers_are_walked_as_tarfile_walks_them(
    tmp_path: Path, dcp_bytes: bytes, hiding: bytes, size_field: bytes
) -> None:
    data = b"x" * 512 if hiding == tarfile.REGTYPE else b""
    cover = _header(hiding, size_field, name="cover/") + data
    tar_path = _behind(tmp_path, dcp_bytes, cover, _header(b"x", _base256(2**80)))
    _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, f"extended header of {2**80} bytes")


def test_an_old_gnu_sparse_member_is_not_a_regular_file(tmp_path: Path, dcp_bytes: bytes) -> None:
    tar_path = tmp_path / "dcp.tar"
    with tarfile.open(tar_path, "w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in _standard(dcp_bytes, _manifest(dcp_bytes)):
            tar.addfile(info, data)
    data = bytearray(tar_path.read_bytes())
    header = data.index(DCP_NAME.encode() + b"\0")
    data[header + 156] = ord(tarfile.GNUTYPE_SPARSE)
    data[header + 148 : header + 156] = b" " * 8
    data[header + 148 : header + 156] = b"%06o\0 " % sum(data[header : header + 512])
    tar_path.write_bytes(bytes(data))
    _fails(tar_path, tmp_path, FailureCause.CORRUPT_ARCHIVE, repr(DCP_NAME), "a sparse file")
