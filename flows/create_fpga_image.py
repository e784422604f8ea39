"""One flow run per image: DCP tarball in the tenant's bucket -> image file + log tarball."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NamedTuple

from prefect import flow, get_client, get_run_logger
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.exceptions import TerminationSignal
from prefect.runtime import flow_run as current_run
from pydantic import Field

from afs.build.logbundle import BuildOutcome
from afs.build.steps import BuildJob, ImageFile, image_metadata
from afs.build.workspace import Workspace
from afs.catalog import default_catalog
from afs.errors import FailureCause, ImageBuildError
from afs.models import IMAGE_ID_PATTERN, PROJECT_ID_PATTERN, FpgaImageRequest
from afs.orchestration.lifecycle import record_run_state
from afs.settings import get_settings
from tasks.check_archive import check_archive
from tasks.fetch_dcp import fetch_dcp
from tasks.mark_active import mark_active
from tasks.package_logs import package_logs
from tasks.render_tcl import render_tcl
from tasks.run_vivado import run_vivado
from tasks.upload import discard_image, upload_image, upload_logs
from tasks.validate import validate

ProjectId = Annotated[
    str, Field(pattern=PROJECT_ID_PATTERN, description="the tenant's project id (32 hex)")
]
ImageId = Annotated[
    str | None,
    Field(
        pattern=IMAGE_ID_PATTERN,
        description="set by the API's dispatcher; leave empty to register a new image",
    ),
]


_operator_log = logging.getLogger(__name__)


def _run_name() -> str:
    image_id = current_run.parameters.get("image_id")
    return f"image-{image_id}" if image_id else "image-new"


def _record_state(flow: object, flow_run: FlowRun, state: State) -> None:
    """Hook: write the image status this run state stands for (DESIGN.md status table).

    Prefect calls hooks by keyword (`flow`, `flow_run`, `state`); a worker calls the crash hook
    of a run whose process died.
    """
    catalog = default_catalog()
    run_id = str(flow_run.id)
    image_id = flow_run.parameters.get("image_id") or catalog.image_of_flow_run(run_id)
    if image_id is not None:
        project_id = flow_run.parameters["project_id"]
        record_run_state(catalog, image_id, project_id, state.type, state.message, run_id)


@contextmanager
def _pipeline_log(workspace: Workspace) -> Iterator[None]:
    """Copy this run's log records into the workspace so they reach the tenant's log tarball."""
    handler = logging.FileHandler(workspace.pipeline_log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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


def _attempt_build(job: BuildJob, workspace: Workspace) -> _Attempt:
    try:
        fetch_dcp(job, workspace)
        checked = check_archive(workspace)
        script = render_tcl(job, workspace, checked)
        vivado_run = run_vivado(workspace, checked)
        metadata = image_metadata(job, checked, vivado_run)
        return _Attempt(image_file=upload_image(job, workspace, metadata, script.partial_bin))
    except ImageBuildError as exc:
        return _Attempt(failure=exc)
    except TerminationSignal as exc:
        # Vivado's process group is gone already (the runner kills it on any exception); the
        # tenant still gets the logs before the run ends.
        stopped = ImageBuildError(_cause_of_interruption(), f"the build was stopped ({exc.signal})")
        return _Attempt(failure=stopped, interruption=exc)
    except Exception as exc:
        # The text of an unexpected exception may hold anything (a key, a path): the traceback
        # goes to the worker's own log only, never to the tenant's run log or log tarball.
        _operator_log.exception("unexpected failure building image %s", job.image_id)
        failure = ImageBuildError(
            FailureCause.INTERNAL_ERROR,
            f"{type(exc).__name__} in flow run {current_run.id}; the factory's operators have "
            "the details",
        )
        return _Attempt(failure=failure)


@flow(
    name="create-fpga-image",
    flow_run_name=_run_name,
    description="Build one FPGA image from a DCP tarball in the tenant's bucket.",
    persist_result=False,
    on_running=[_record_state],
    on_failure=[_record_state],
    on_crashed=[_record_state],
    on_cancellation=[_record_state],
)
def create_fpga_image(
    image: FpgaImageRequest, project_id: ProjectId, image_id: ImageId = None
) -> str:
    """Returns the image id; the image ends `active`, or `error` with `CODE: text` as message."""
    job = validate(image, project_id, image_id)
    workspace = Workspace.create(get_settings().builds_dir, job.image_id)
    try:
        with _pipeline_log(workspace):
            image_file, failure, interruption = _attempt_build(job, workspace)
            if failure is not None:
                get_run_logger().error("%s", failure.message)
            tarball = package_logs(workspace, BuildOutcome.of(job.image_id, failure))
        try:
            upload_logs(job, tarball)
        except ImageBuildError as exc:
            # A build that failed keeps its own cause; a good build without its logs is an error,
            # and its image file must not stay in the store with no image to own it.
            if image_file is not None:
                discard_image(job, image_file)
            failure = failure or exc
    finally:
        workspace.remove()
    if failure is not None:
        # Only now, with the logs delivered, does the image finish and free the project's quota.
        default_catalog().mark_error(job.image_id, failure.message)
        raise interruption or failure
    mark_active(job, image_file)
    return job.image_id
