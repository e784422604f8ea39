"""Registering a finished bitstream (the legacy `POST /v1/.../fpga_image`), without Prefect.

What a tenant registers is what the FP1 kit's earlier flows uploaded (its AEI_Register.sh with
`fis fpga-image-register`): an `.xclbin` compiled to a bitstream, or a `.bin`, either the raw
configuration data or the kit's own AEI packaging of it (AEI_packager.py). Nothing is built: the
file is checked (a VU9P bitstream; a partial one where the file says) and its configuration data
becomes the image file. Every failure is an ImageBuildError with its cause, as a build's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from afs import storage
from afs.build.aei import HEADER as AEI_HEADER
from afs.build.aei import MAGIC as AEI_MAGIC
from afs.build.aei import AeiError, read_aei
from afs.build.steps import ImageJob, RunRefused, storage_failure
from afs.build.workspace import Workspace
from afs.errors import FailureCause, ImageBuildError
from afs.files import file_sha256
from afs.inputs.bitstream import (
    BIN_SUFFIX,
    IDCODE_MASK,
    XCLBIN_SUFFIX,
    BitstreamError,
    copy_range,
    idcode_of,
    read_xclbin,
    same_part,
    stream_idcode,
)
from afs.models import USER_METADATA_KEY, ImageRecord, RegisterFpgaImageRequest
from afs.settings import VU9P_PART, Settings
from afs.status import IN_CREATION
from afs.tenants import BucketNotOwned, TenantNotConfigured, load_tenant, tenant_client

# The toolchain a registered image records: nothing of the factory's built it.
REGISTERED_TOOLCHAIN = "none: a finished bitstream registered as it is, not built by the factory"


class RegisterJob(ImageJob):
    """One bitstream to register; holds no secret, so it may travel as a parameter."""

    request: RegisterFpgaImageRequest


class RegisteredBitstream(BaseModel):
    """What the registered file was found to hold, and where its configuration data lies."""

    kind: Literal["xclbin", "bin", "aei"]
    part: str | None  # what a header says; a raw .bin names its device by IDCODE only
    design: str | None
    tool_version: str | None
    partial: bool | None  # None: a raw .bin does not say
    idcode: str
    data_offset: int
    data_bytes: int
    sha256: str  # of the file as registered


def registration_for_image(
    record: ImageRecord, project_id: str, request: RegisterFpgaImageRequest, flow_run_id: str
) -> RegisterJob:
    """The registration of a catalogued image, if this run is its own and it awaits saving."""
    if not record.registered or record.project_id != project_id:
        raise RunRefused(f"run parameters do not match image {record.id} in the catalog")
    if record.registration.location != request.location or record.name != request.name:
        raise RunRefused(f"run parameters do not match image {record.id} in the catalog")
    if record.flow_run_id not in (None, flow_run_id):
        raise RunRefused(f"image {record.id} is saved by flow run {record.flow_run_id}")
    if record.status not in IN_CREATION:
        raise RunRefused(f"image {record.id} is {record.status.value}, not awaiting saving")
    return RegisterJob(image_id=record.id, project_id=project_id, request=request)


def fetch_registered_file(settings: Settings, job: RegisterJob, workspace: Workspace) -> Path:
    """Download the file from the project's own bucket into the workspace."""
    request = job.request
    try:
        tenant = load_tenant(settings, job.project_id)
        tenant.require_bucket(request.bucket)
    except (TenantNotConfigured, BucketNotOwned) as exc:
        raise ImageBuildError(
            FailureCause.INACCESSIBLE_INPUT, f"{request.location}: {exc}"
        ) from exc
    path = workspace.input_dir / Path(request.key).name
    try:
        storage.download_object(
            tenant_client(settings, tenant),
            request.bucket,
            request.key,
            path,
            max_bytes=settings.max_tarball_bytes,
        )
    except storage.StorageError as exc:
        raise storage_failure(exc) from exc
    return path


def _vu9p_stream(path: Path, offset: int) -> str:
    """The IDCODE of the configuration data at `offset`, which must be the VU9P's."""
    try:
        idcode = stream_idcode(path, offset)
    except BitstreamError as exc:
        raise ImageBuildError(FailureCause.BITSTREAM_CORRUPT, str(exc)) from exc
    expected = idcode_of(VU9P_PART)
    assert expected is not None  # the factory's own part is in the table
    if idcode & IDCODE_MASK != expected:
        raise ImageBuildError(
            FailureCause.PART_MISMATCH,
            f"{path.name} configures the device of IDCODE 0x{idcode:08X}, not the "
            f"{VU9P_PART} (0x{expected:08X}) this factory's images are for",
        )
    return f"0x{idcode:08X}"


def _xclbin(path: Path) -> RegisteredBitstream:
    try:
        info = read_xclbin(path)
    except BitstreamError as exc:
        raise ImageBuildError(FailureCause.BITSTREAM_CORRUPT, str(exc)) from exc
    header = info.bitstream
    if header is None:
        raise ImageBuildError(
            FailureCause.BITSTREAM_NOT_FOUND,
            f"{path.name}'s BITSTREAM section holds a design checkpoint (compiled with "
            "acceleratorBinaryContent=dcp), not a bitstream: a checkpoint is built, with "
            "POST /v2/{project_id}/cloudservers/fpga_image",
        )
    if not same_part(header.part, VU9P_PART):
        raise ImageBuildError(
            FailureCause.PART_MISMATCH,
            f"{path.name} holds a bitstream for part {header.part!r}; this factory's images "
            f"are for {VU9P_PART!r}",
        )
    if not header.partial:
        raise ImageBuildError(
            FailureCause.BITSTREAM_NOT_PARTIAL,
            f"{path.name} holds a full bitstream (design {header.design!r} without "
            "PARTIAL=TRUE); an FPGA image is the partial bitstream of the user region",
        )
    idcode = _vu9p_stream(path, header.data_offset)
    return RegisteredBitstream(
        kind="xclbin",
        part=header.part,
        design=header.design,
        tool_version=header.tool_version,
        partial=True,
        idcode=idcode,
        data_offset=header.data_offset,
        data_bytes=header.data_bytes,
        sha256=file_sha256(path),
    )


def _bin(path: Path) -> RegisteredBitstream:
    with path.open("rb") as stream:
        packaged = stream.read(len(AEI_MAGIC)) == AEI_MAGIC
    offset, size = 0, path.stat().st_size
    if packaged:  # the kit's AEI_packager.py wrote it: header, metadata, data, sha256
        try:
            image = read_aei(path)
        except AeiError as exc:
            raise ImageBuildError(FailureCause.BITSTREAM_CORRUPT, str(exc)) from exc
        offset = size - image.bitstream_length - 32
        size = image.bitstream_length
        if offset < AEI_HEADER.size:
            raise ImageBuildError(FailureCause.BITSTREAM_CORRUPT, f"{path.name} is cut short")
    if size == 0:
        raise ImageBuildError(FailureCause.BITSTREAM_CORRUPT, f"{path.name} holds no data")
    return RegisteredBitstream(
        kind="aei" if packaged else "bin",
        part=None,
        design=None,
        tool_version=None,
        partial=None,
        idcode=_vu9p_stream(path, offset),
        data_offset=offset,
        data_bytes=size,
        sha256=file_sha256(path),
    )


def check_registered_file(path: Path) -> RegisteredBitstream:
    """What the file holds, if it is a VU9P bitstream an image can be made of."""
    if path.name.endswith(XCLBIN_SUFFIX):
        return _xclbin(path)
    if path.name.endswith(BIN_SUFFIX):
        return _bin(path)
    raise ImageBuildError(FailureCause.BITSTREAM_CORRUPT, f"{path.name} is no .bin or .xclbin")


def write_registered_bin(path: Path, found: RegisteredBitstream, bin_path: Path) -> Path:
    """The configuration data the image file holds, as `write_bitstream -bin_file` writes it."""
    copy_range(path, found.data_offset, found.data_bytes, bin_path)
    return bin_path


def registered_metadata(job: RegisterJob, found: RegisteredBitstream) -> dict[str, Any]:
    """What the image file and the catalog say of a registered image."""
    return {
        USER_METADATA_KEY: job.request.metadata,
        "bitstream": found.model_dump(exclude={"data_offset"}),
        "toolchain": REGISTERED_TOOLCHAIN,
        "image_id": job.image_id,
        "project_id": job.project_id,
    }
