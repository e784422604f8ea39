from __future__ import annotations

from prefect import get_run_logger
from prefect.concurrency.sync import concurrency

from afs.build.steps import build_bitstream
from afs.build.vivado.runner import VivadoRun
from afs.build.workspace import Workspace
from afs.inputs.archive import CheckedInput
from afs.orchestration.artifacts import VivadoProgress
from afs.orchestration.farm import LICENCE_LIMIT
from afs.settings import get_settings
from tasks import build_step

# A killed build's licence comes back when its lease runs out unrenewed.
_LICENCE_LEASE_SECONDS = 60


@build_step("run-vivado")
def run_vivado(workspace: Workspace, checked: CheckedInput, image_id: str) -> VivadoRun:
    """Vivado holds one of the farm's floating licences while it runs, and only then: other
    builds fetch, check and upload meanwhile. Its progress is the image's progress artifact."""
    logger = get_run_logger()
    logger.info("waiting for a Vivado licence (global concurrency limit %s)", LICENCE_LIMIT)
    with concurrency(LICENCE_LIMIT, occupy=1, lease_duration=_LICENCE_LEASE_SECONDS):
        progress = VivadoProgress(image_id)

        def on_line(line: str) -> None:
            logger.info("%s", line)
            progress.saw(line)

        run = build_bitstream(get_settings(), workspace, checked, on_line=on_line)
    logger.info("built with %s", run.tool_identity)
    return run
