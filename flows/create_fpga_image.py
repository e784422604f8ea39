"""One flow run per image: DCP tarball in the tenant's bucket -> image file + log tarball."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from prefect import flow, get_client, get_run_logger
from prefect.client.schemas.objects import State, StateType
from prefect.exceptions import TerminationSignal
from prefect.runtime import flow_run as current_run
from prefect.states import Completed, Failed

from afs.build.logbundle import BuildOutcome
from afs.build.steps import BuildJob, ImageFile, MisroutedBuild, image_metadata
from afs.build.summary import BuildSummary, StepTime
from afs.build.workspace import Workspace
from afs.catalog import default_catalog
from afs.errors import AfsError, FailureCause, ImageBuildError
from afs.models import FpgaImageRequest
from afs.orchestration.artifacts import publish_summary
from afs.orchestration.farm import build_queue
from afs.orchestration.hooks import (
    IMAGE_RUN_HOOKS,
    ImageId,
    ProjectId,
    image_run_name,
    refuse_run,
)
from afs.orchestration.lifecycle import deliver_ended_run_logs
from afs.settings import get_settings
from afs.tasks import contained
from afs.tasks.check_archive import check_archive
from afs.tasks.fetch_dcp import fetch_dcp
from afs.tasks.mark_active import mark_active
from afs.tasks.package_logs import package_logs
from afs.tasks.render_tcl import render_tcl
from afs.tasks.run_vivado import run_vivado
from afs.tasks.upload import discard_image, upload_image, upload_logs
from afs.tasks.validate import validate


class _FailuresWithoutTracebacks(logging.Filter):
    """A step or run that failed on purpose (an AfsError: the tenant's cause, or the neutral
    INTERNAL_ERROR whose details went to the operators' log) is logged by Prefect as its message
    alone: the run's log reads as a failure, not as a crash of the factory."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], AfsError):
            record.exc_info = None
            record.exc_text = None
        return True


for _run_logger in ("prefect.flow_runs", "prefect.task_runs"):
    logging.getLogger(_run_logger).addFilter(_FailuresWithoutTracebacks())


class _PipelineLogFormatter(logging.Formatter):
    """Messages only: a record's traceback names the factory's files and is for the operators."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record)
        return self.formatMessage(record)


@contextmanager
def _pipeline_log(workspace: Workspace) -> Iterator[None]:
    """Copy this run's log records into the workspace so they reach the tenant's log tarball."""
    handler = logging.FileHandler(workspace.pipeline_log)
    handler.setFormatter(_PipelineLogFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(name) for name in ("prefect.flow_runs", "prefect.task_runs")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        handler.close()


class _Attempt(NamedTuple):
    image_file: ImageFile | None = None
    failure: ImageBuildError | None = None
    interruption: TerminationSignal | None = None


def _cause_of_interruption() -> FailureCause:
    """SIGTERM is a cancel if Prefect is cancelling this run; otherwise the worker is going away."""
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(current_run.id).state
    cancelling = state is not None and state.type in {StateType.CANCELLING, StateType.CANCELLED}
    return FailureCause.CANCELLED if cancelling else FailureCause.WORKER_CRASHED


@contextmanager
def _timed(summary: BuildSummary, step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        summary.steps.append(StepTime(step=step, seconds=round(time.monotonic() - started, 3)))


def _attempt_build(job: BuildJob, workspace: Workspace, summary: BuildSummary) -> _Attempt:
    try:
        with _timed(summary, "fetch-dcp"):
            fetch_dcp(job, workspace)
        with _timed(summary, "check-archive"):
            checked = check_archive(workspace)
        summary.record_input(checked)
        with _timed(summary, "render-tcl"):
            script = render_tcl(job, workspace, checked)
        with _timed(summary, "run-vivado"):
            vivado_run = run_vivado(workspace, checked, job.image_id)
        summary.record_vivado(vivado_run)
        metadata = image_metadata(job, checked, vivado_run)
        with _timed(summary, "upload-image"):
            image_file = upload_image(job, workspace, metadata, script.partial_bin)
        summary.image_file = image_file.location
        return _Attempt(image_file=image_file)
    except ImageBuildError as exc:
        return _Attempt(failure=exc)
    except TerminationSignal as exc:
        # Vivado's process group is gone already (the runner kills it on any exception); the
        # tenant still gets the logs before the run ends.
        stopped = ImageBuildError(_cause_of_interruption(), f"the build was stopped ({exc.signal})")
        return _Attempt(failure=stopped, interruption=exc)


def _deliver_logs(
    job: BuildJob,
    workspace: Workspace,
    image_file: ImageFile | None,
    failure: ImageBuildError | None,
    summary: BuildSummary,
) -> ImageBuildError | None:
    """Pack and upload the log tarball; returns the build's failure, or the upload's."""
    with _pipeline_log(workspace):
        if failure is not None:
            get_run_logger().error("%s", failure.message)
        tarball = package_logs(workspace, BuildOutcome.of(job.image_id, failure))
    try:
        with _timed(summary, "upload-logs"):
            summary.log_tarball = upload_logs(job, tarball)
    except ImageBuildError as exc:
        # A build that failed keeps its own cause; a good build without its logs is an error,
        # and its image file must not stay in the store with no image to own it.
        if image_file is not None:
            discard_image(job, image_file)
        return failure or exc
    return failure


def _build_and_deliver(job: BuildJob, workspace: Workspace, summary: BuildSummary) -> _Attempt:
    """Build, deliver the logs, and make the image active; what failed, if anything."""
    with _pipeline_log(workspace):
        image_file, failure, interruption = _attempt_build(job, workspace, summary)
    failure = _deliver_logs(job, workspace, image_file, failure, summary)
    if failure is not None or image_file is None:
        return _Attempt(failure=failure, interruption=interruption)
    try:
        mark_active(job, image_file)
    except ImageBuildError as exc:
        # The tarball says `active` and the store holds the file: neither may stay so.
        discard_image(job, image_file)
        return _Attempt(failure=_deliver_logs(job, workspace, None, exc, summary))
    return _Attempt(image_file=image_file)


def _finish(job: BuildJob, workspace: Workspace) -> _Attempt:
    """The attempt, then its summary published as the run's artifacts, whatever its end."""
    summary = BuildSummary(image_id=job.image_id, request=job.request)
    attempt = _build_and_deliver(job, workspace, summary)
    summary.record_reports(workspace.reports_dir)
    if attempt.failure is not None:
        summary.failure, summary.image_file = attempt.failure.message, None  # discarded
    publish_summary(summary)
    return attempt


def _attempt_in_workspace(job: BuildJob) -> _Attempt:
    """One attempt in a workspace of its own, removed when the attempt is over."""
    attempt = f"{current_run.id}-{current_run.run_count}"
    workspace = Workspace.create(get_settings().builds_dir, job.image_id, attempt)
    try:
        return _finish(job, workspace)
    finally:
        workspace.remove()


_build = contained(_attempt_in_workspace, expected=(ImageBuildError, MisroutedBuild))


def _hand_back(job: BuildJob, misrouted: MisroutedBuild) -> State[str]:
    """Give the image back to the dispatcher, which starts its build on the right queue."""
    queue = build_queue(misrouted.tool_version)
    message = f"{misrouted}: image {job.image_id} goes back to the dispatcher for queue {queue}"
    get_run_logger().warning("%s", message)
    default_catalog().hand_back(job.image_id, str(current_run.id))
    return Completed(message=message, data=job.image_id)


@contained
def _end_in_error(job: BuildJob, failure: ImageBuildError, logs_delivered: bool) -> None:
    """Only now, with the logs delivered, does the image finish and free the project's quota."""
    catalog = default_catalog()
    if not logs_delivered:
        deliver_ended_run_logs(catalog.get(job.image_id), failure.message, str(current_run.id))
    catalog.mark_error(job.image_id, failure.message, flow_run_id=str(current_run.id))


@flow(
    name="create-fpga-image",
    flow_run_name=image_run_name,
    description="Build one FPGA image from a DCP tarball in the tenant's bucket.",
    persist_result=False,
    **IMAGE_RUN_HOOKS,
)
def create_fpga_image(
    image: FpgaImageRequest, project_id: ProjectId, image_id: ImageId = None
) -> str | State[str]:
    """Build one FPGA image; it ends `active`, or `error` with `CODE: text` as its message.

    Args:
        image: The request, as in the cloud API's `fpga_image` object: where the DCP tarball is
            in the project's bucket (`bucket:key.tar`), the image's name, and optionally a
            directory for the log tarball and a description. Example: `{"dcp_location":
            "obs-fpga:vu9p/fpga-vu9p-dcp.tar", "name": "fpga-image-test", "log_directory":
            "vu9p/log"}`.
        project_id: The tenant's project (32 lowercase hex digits); its storage and quota apply.
        image_id: Leave empty to register a new image for this run. The API's dispatcher sets it
            to the image it registered.

    Returns the image id (or, on a host without the image's Vivado, hands the image back to the
    dispatcher, which starts its build on the right queue).
    """
    try:
        job = validate(image, project_id, image_id)
    except AfsError as refusal:
        return refuse_run(project_id, image_id, refusal)
    try:
        _, failure, interruption = _build(job)
        logs_delivered = True
    except MisroutedBuild as exc:
        return _hand_back(job, exc)
    except ImageBuildError as exc:  # the factory failed outside the build's steps
        failure, interruption, logs_delivered = exc, None, False
    if failure is not None:
        _end_in_error(job, failure, logs_delivered)
        if interruption is not None:
            raise interruption  # Prefect ends the run Crashed or Cancelled, as it was stopped
        # Failed with the image's own `CODE: text` as the run's state message.
        return Failed(message=failure.message, data=failure)
    return job.image_id
