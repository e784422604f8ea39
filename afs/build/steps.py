"""The steps of one image build, without Prefect: each flow task calls one of these.

Every failure leaves here as an ImageBuildError carrying its cause, so the flow only has to record
the message and deliver the logs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from afs import storage
from afs.build.aei import write_aei
from afs.build.tcl import BuildScriptInputs, render_build_script
from afs.build.vivado.runner import VivadoConfigError, VivadoRun, run_vivado, vivado_binary_for
from afs.build.workspace import Workspace
from afs.errors import AfsError, FailureCause, ImageBuildError
from afs.inputs.archive import ArchiveLimits, CheckedInput, check_tarball
from afs.inputs.dcp import DcpError, read_dcp, whole_design_problem
from afs.models import IMAGE_FILE_KEY, FpgaImageRequest, ImageRecord
from afs.settings import Settings
from afs.status import IN_CREATION
from afs.tenants import (
    BucketNotOwned,
    TenantNotConfigured,
    TenantStorage,
    image_store_client,
    load_tenant,
    tenant_client,
)

log = logging.getLogger(__name__)

_STORAGE_CAUSES: dict[type[storage.StorageError], FailureCause] = {
    storage.ObjectInaccessible: FailureCause.INACCESSIBLE_INPUT,
    storage.ObjectTooLarge: FailureCause.INPUT_SIZE_ILLEGAL,
    storage.StorageUnavailable: FailureCause.STORAGE_UNAVAILABLE,
}


class ImageJob(BaseModel):
    """One image a run makes: whose, which. Holds no secret."""

    image_id: str
    project_id: str


class BuildJob(ImageJob):
    """One image to build: who asked, what for. Holds no secret, so it may travel as a parameter."""

    request: FpgaImageRequest


class RunRefused(AfsError):
    """The run's parameters do not describe an image this run may build; nothing is changed."""


def job_for_image(
    record: ImageRecord, project_id: str, request: FpgaImageRequest, flow_run_id: str
) -> BuildJob:
    """The build job of a catalogued image, if this run is the image's and it awaits a build.

    A run retried from the UI after its image finished must not build it again behind the
    catalog's back (failed images go through reprocessing), nor may a second run build an image
    another run is building.
    """
    if record.project_id != project_id or record.request != request:
        raise RunRefused(f"run parameters do not match image {record.id} in the catalog")
    if record.flow_run_id not in (None, flow_run_id):
        raise RunRefused(f"image {record.id} is built by flow run {record.flow_run_id}")
    if record.status not in IN_CREATION:
        raise RunRefused(f"image {record.id} is {record.status.value}, not awaiting a build")
    return BuildJob(image_id=record.id, project_id=project_id, request=request)


class ImageFile(BaseModel):
    location: str
    size_mb: int
    metadata: dict[str, Any]

    @property
    def catalog_metadata(self) -> dict[str, Any]:
        """The image's metadata as the catalog keeps it: with the file's location."""
        return {**self.metadata, IMAGE_FILE_KEY: self.location}


def storage_failure(error: storage.StorageError) -> ImageBuildError:
    return ImageBuildError(
        _STORAGE_CAUSES.get(type(error), FailureCause.INTERNAL_ERROR), str(error)
    )


def store_did_not_answer(error: ImageBuildError) -> bool:
    """Whether a step failed only because a store did not answer, so the same step may succeed
    if tried again (a refusal, or the tenant's input, would fail the same way)."""
    return error.cause is FailureCause.STORAGE_UNAVAILABLE or isinstance(
        error.__cause__, storage.StorageUnavailable
    )


def tenant_for(settings: Settings, job: BuildJob) -> TenantStorage:
    """The project's storage, if the DCP's bucket is one of its own."""
    try:
        tenant = load_tenant(settings, job.project_id)
        tenant.require_bucket(job.request.dcp_bucket)
    except (TenantNotConfigured, BucketNotOwned) as exc:
        raise ImageBuildError(
            FailureCause.INACCESSIBLE_INPUT, f"{job.request.dcp_location}: {exc}"
        ) from exc
    return tenant


def fetch_input(settings: Settings, job: BuildJob, workspace: Workspace) -> storage.Download:
    client = tenant_client(settings, tenant_for(settings, job))
    try:
        return storage.download_object(
            client,
            job.request.dcp_bucket,
            job.request.dcp_key,
            workspace.input_tarball,
            max_bytes=settings.max_tarball_bytes,
        )
    except storage.StorageError as exc:
        raise storage_failure(exc) from exc


def archive_limits(settings: Settings) -> ArchiveLimits:
    return ArchiveLimits(
        max_members=settings.max_tar_members,
        max_member_bytes=settings.max_tarball_bytes,
        max_manifest_bytes=settings.max_manifest_bytes,
    )


def check_input(settings: Settings, workspace: Workspace) -> CheckedInput:
    return check_tarball(
        workspace.input_tarball,
        workspace.input_dir,
        limits=archive_limits(settings),
        kit_flows=settings.kit_flows,
    )


class MisroutedBuild(AfsError):
    """This host has no Vivado for the image's tool version (a run from the UI, which lands on
    the first version's queue, or a manifest replaced after dispatch). Never the tenant's fault:
    the image goes back to the dispatcher, which routes it to that version's queue."""

    def __init__(self, tool_version: str) -> None:
        super().__init__(f"this build host has no Vivado {tool_version}")
        self.tool_version = tool_version


def require_host_tool(settings: Settings, checked: CheckedInput) -> None:
    if checked.manifest.tool_version not in settings.vivado_binaries:
        raise MisroutedBuild(checked.manifest.tool_version)


def require_routed_design(checked: CheckedInput, shell_dcp: Path) -> None:
    """Refuse, before Vivado, a DCP that cannot be the whole design routed against the shell."""
    try:
        shell_top = read_dcp(shell_dcp).top
    except DcpError as exc:
        raise ImageBuildError(
            FailureCause.INTERNAL_ERROR,
            f"the static checkpoint of shell {checked.manifest.shell_id} is unreadable",
        ) from exc
    problem = whole_design_problem(checked.dcp, checked.dcp_path.name, shell_top)
    if problem is not None:
        raise ImageBuildError(FailureCause.DCP_NOT_ROUTED_DESIGN, problem)


def write_build_script(
    settings: Settings, job: BuildJob, workspace: Workspace, checked: CheckedInput
) -> BuildScriptInputs:
    shell_dcp = settings.shells_dir / f"{checked.manifest.shell_id}.dcp"
    if not shell_dcp.is_file():
        raise ImageBuildError(
            FailureCause.INTERNAL_ERROR,
            f"the static checkpoint of shell {checked.manifest.shell_id} is not installed",
        )
    require_routed_design(checked, shell_dcp)
    inputs = BuildScriptInputs(
        image_id=job.image_id,
        user_dcp=checked.dcp_path,
        shell_dcp=shell_dcp,
        output_dir=workspace.output_dir,
        reports_dir=workspace.reports_dir,
    )
    workspace.build_script.write_text(render_build_script(inputs))
    return inputs


def build_bitstream(
    settings: Settings,
    workspace: Workspace,
    checked: CheckedInput,
    on_line: Callable[[str], None] | None = None,
) -> VivadoRun:
    try:
        binary = vivado_binary_for(checked.manifest.tool_version, settings.vivado_binaries)
    except VivadoConfigError as exc:
        raise ImageBuildError(FailureCause.INTERNAL_ERROR, str(exc)) from exc
    workspace.vivado_dir.mkdir(parents=True, exist_ok=True)
    return run_vivado(
        binary,
        workspace.build_script,
        workspace.vivado_dir,
        timeout_seconds=settings.build_timeout_seconds,
        term_grace_seconds=settings.vivado_term_grace_seconds,
        on_line=on_line,
    )


def image_metadata(job: BuildJob, checked: CheckedInput, run: VivadoRun) -> dict[str, Any]:
    return {
        "manifest": checked.manifest.model_dump(),
        "dcp": {
            "part": checked.dcp.part,
            "top": checked.dcp.top,
            "product": checked.dcp.product,
            "sha256": checked.dcp_sha256,
        },
        "toolchain": run.tool_identity,
        "image_id": job.image_id,
        "project_id": job.project_id,
    }


def store_image(
    settings: Settings,
    job: ImageJob,
    workspace: Workspace,
    metadata: dict[str, Any],
    bitstream: Path,
) -> ImageFile:
    """Write the image file and put it in the factory's image store (never the tenant's bucket)."""
    if not bitstream.is_file():
        raise ImageBuildError(
            FailureCause.BITSTREAM_GENERATE_ERROR,
            f"vivado wrote no partial bitstream {bitstream.name}",
        )
    write_aei(workspace.image_file, metadata, bitstream)
    key = f"{job.project_id}/{job.image_id}.aei"
    client = image_store_client(settings)
    try:
        storage.ensure_bucket(client, settings.image_store_bucket)
        storage.upload_file(
            client, workspace.image_file, settings.image_store_bucket, key,
            content_type="application/octet-stream",
        )  # fmt: skip
    except storage.StorageError as exc:
        raise storage_failure(exc) from exc
    size_mb = max(1, math.ceil(workspace.image_file.stat().st_size / 2**20))
    return ImageFile(
        location=f"{settings.image_store_bucket}:{key}", size_mb=size_mb, metadata=metadata
    )


def delete_image_file(settings: Settings, location: str) -> None:
    """Remove an image file (`bucket:key` in the image store)."""
    bucket, _, key = location.partition(":")
    storage.delete_object(image_store_client(settings), bucket, key)


def discard_image(settings: Settings, image: ImageFile) -> None:
    """Remove an image file whose image did not become active (best effort: logged, not raised)."""
    try:
        delete_image_file(settings, image.location)
    except storage.StorageError:
        log.warning("could not remove %s; the image store keeps an orphan", image.location)


def deliver_logs(settings: Settings, job: BuildJob, tarball: Path) -> str:
    """Upload the log tarball to the tenant's bucket; returns `bucket:key`.

    A store that did not answer is STORAGE_UNAVAILABLE (reprocessing builds the image again); a
    bucket that refused (gone, access denied) is LOG_UPLOAD_FAILED, the tenant's to fix.
    """
    bucket, key = job.request.dcp_bucket, job.request.log_tarball_key(job.image_id)
    try:
        client = tenant_client(settings, tenant_for(settings, job))
        storage.upload_file(client, tarball, bucket, key)
    except ImageBuildError as exc:
        raise ImageBuildError(FailureCause.LOG_UPLOAD_FAILED, exc.text) from exc
    except storage.StorageUnavailable as exc:
        raise ImageBuildError(
            FailureCause.STORAGE_UNAVAILABLE, f"the log tarball was not uploaded: {exc}"
        ) from exc
    except storage.StorageError as exc:
        raise ImageBuildError(FailureCause.LOG_UPLOAD_FAILED, str(exc)) from exc
    return f"{bucket}:{key}"
