"""The register-fpga-image flow (the legacy `POST /v1/.../fpga_image`), run for real against the
Prefect server and the S3 server: each file a tenant could register, and what becomes of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from afs.build.aei import read_aei, read_aei_bitstream, write_aei
from afs.build.vivado.emulator.bitstream import bit_file, design_field, emulated_bitstream
from afs.catalog import default_catalog
from afs.devstack.samples import sample_partial_bitstream, write_sample_xclbin, xclbin_file
from afs.errors import FailureCause
from afs.flows.register_fpga_image import register_fpga_image
from afs.inputs.bitstream import read_bit_header
from afs.models import USER_METADATA_KEY, ImageRecord, RegisterFpgaImageRequest
from afs.settings import VU9P_PART, get_settings
from afs.status import ImageStatus
from afs.tenants import image_store_client
from tests.factory import Tenant

METADATA = {"shell_type": "OCL", "shell_version": "1.0"}
VU9P_IDCODE = 0x04B31093


def register(tenant: Tenant, key: str, data: bytes) -> ImageRecord:
    """Upload `data`, register it as the API does (saving), run the flow."""
    tenant.put(key, data)
    request = RegisterFpgaImageRequest(
        location=f"{tenant.bucket}:{key}", name="registered", metadata=METADATA
    )
    record = default_catalog().register(tenant.project_id, request)
    assert record.status is ImageStatus.SAVING
    register_fpga_image(
        image=request, project_id=tenant.project_id, image_id=record.id, return_state=True
    )
    return default_catalog().get(record.id)


def configuration_data(bit: bytes) -> bytes:
    import io

    header = read_bit_header(io.BytesIO(bit), len(bit), "x.bit")
    return bit[header.data_offset :]


def stored_image(tenant: Tenant, record: ImageRecord, tmp_path: Path) -> Path:
    bucket, _, key = record.metadata["image_file"].partition(":")
    path = tmp_path / "image.aei"
    image_store_client(get_settings()).download_file(bucket, key, str(path))
    return path


def assert_failed_with(record: ImageRecord, cause: FailureCause, *words: str) -> None:
    assert record.status is ImageStatus.ERROR
    assert record.message is not None
    assert record.message.startswith(f"{cause.value}: "), record.message
    for word in words:
        assert word in record.message, record.message


def test_an_xclbin_holding_a_partial_bitstream_becomes_an_image_of_its_bin(
    tenant: Tenant, tmp_path: Path
) -> None:
    bit = sample_partial_bitstream()
    record = register(tenant, "ocl/vadd.xclbin", xclbin_file(bit))

    assert record.status is ImageStatus.ACTIVE, record.message
    assert record.metadata[USER_METADATA_KEY] == METADATA
    found = record.metadata["bitstream"]
    assert (found["kind"], found["part"], found["partial"]) == ("xclbin", VU9P_PART, True)
    assert found["idcode"] == f"0x{VU9P_IDCODE:08X}"
    assert "not built" in record.metadata["toolchain"]
    # The image holds the .bin, as write_bitstream -bin_file writes it: no header, no swapping.
    image = stored_image(tenant, record, tmp_path)
    assert read_aei_bitstream(image) == configuration_data(bit)
    assert read_aei(image).metadata[USER_METADATA_KEY] == METADATA
    assert record.size_mb == 1
    assert record.log_directory is None


def test_a_raw_bin_of_the_vu9p_is_saved_as_it_is(tenant: Tenant, tmp_path: Path) -> None:
    data = configuration_data(sample_partial_bitstream())
    record = register(tenant, "fpga.bin", data)

    assert record.status is ImageStatus.ACTIVE, record.message
    assert record.metadata["bitstream"]["kind"] == "bin"
    assert record.metadata["bitstream"]["partial"] is None  # a raw .bin does not say
    assert read_aei_bitstream(stored_image(tenant, record, tmp_path)) == data


def test_the_kits_own_aei_bin_is_unpacked_to_its_bitstream(tenant: Tenant, tmp_path: Path) -> None:
    data = configuration_data(sample_partial_bitstream())
    (tmp_path / "data.bin").write_bytes(data)
    write_aei(tmp_path / "kit_aei.bin", {"version": "AEIv1.0"}, tmp_path / "data.bin")
    record = register(tenant, "kit_aei.bin", (tmp_path / "kit_aei.bin").read_bytes())

    assert record.status is ImageStatus.ACTIVE, record.message
    assert record.metadata["bitstream"]["kind"] == "aei"
    assert read_aei_bitstream(stored_image(tenant, record, tmp_path)) == data


def _bit_for(part: str, *, partial: bool, idcode: int | None) -> bytes:
    from datetime import datetime

    design = design_field("top", partial=partial, compress=False, version="2017.4", marks={})
    stream = emulated_bitstream("other", frames=10, idcode=idcode)
    return bit_file(design, part, stream, datetime(2018, 1, 1))


@pytest.mark.parametrize(
    ("key", "data", "cause", "words"),
    [
        (
            "vadd.xclbin",
            xclbin_file(_bit_for(VU9P_PART, partial=False, idcode=VU9P_IDCODE)),
            FailureCause.BITSTREAM_NOT_PARTIAL,
            ("full bitstream", "PARTIAL=TRUE"),
        ),
        (
            "vadd.xclbin",
            xclbin_file(_bit_for("xcku115-flvb2104-2-e", partial=True, idcode=0x0390D093)),
            FailureCause.PART_MISMATCH,
            ("'xcku115-flvb2104-2-e'",),
        ),
        (
            "other.bin",
            configuration_data(_bit_for(VU9P_PART, partial=True, idcode=0x0390D093)),
            FailureCause.PART_MISMATCH,
            ("IDCODE 0x0390D093", "0x04B31093"),
        ),
        (
            "vadd.xclbin",
            b"xclbin2\x00" + bytes(100),
            FailureCause.BITSTREAM_CORRUPT,
            ("vadd.xclbin ends inside its xclbin header",),
        ),
        (
            "junk.bin",
            b"\xff" * 4096,
            FailureCause.BITSTREAM_CORRUPT,
            ("no sync word",),
        ),
        (
            "nodevice.bin",
            configuration_data(_bit_for(VU9P_PART, partial=True, idcode=None)),
            FailureCause.BITSTREAM_CORRUPT,
            ("writes no IDCODE",),
        ),
    ],
    ids=["full", "other-part-xclbin", "other-device-bin", "cut-xclbin", "junk-bin", "no-idcode"],
)
def test_a_file_that_is_no_partial_vu9p_bitstream_ends_in_error_with_its_cause(
    tenant: Tenant, key: str, data: bytes, cause: FailureCause, words: tuple[str, ...]
) -> None:
    record = register(tenant, key, data)
    assert_failed_with(record, cause, *words)
    assert "/" not in record.message.replace(key, "")  # no host path


def test_an_xclbin_holding_a_checkpoint_is_sent_to_the_v2_create(
    tenant: Tenant, tmp_path: Path
) -> None:
    xclbin = write_sample_xclbin(tmp_path / "vadd.xclbin")
    record = register(tenant, "vadd.xclbin", xclbin.read_bytes())
    assert_failed_with(
        record, FailureCause.BITSTREAM_NOT_FOUND, "design checkpoint", "/v2/{project_id}"
    )


def test_a_missing_file_is_inaccessible_input_and_frees_the_quota(tenant: Tenant) -> None:
    request = RegisterFpgaImageRequest(
        location=f"{tenant.bucket}:missing.bin", name="registered", metadata={}
    )
    record = default_catalog().register(tenant.project_id, request)
    register_fpga_image(
        image=request, project_id=tenant.project_id, image_id=record.id, return_state=True
    )
    assert_failed_with(default_catalog().get(record.id), FailureCause.INACCESSIBLE_INPUT)
    # The quota is free: the project may register again at once.
    again = default_catalog().register(tenant.project_id, request)
    assert again.status is ImageStatus.SAVING
