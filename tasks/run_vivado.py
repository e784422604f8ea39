from __future__ import annotations

from prefect import get_run_logger

from afs.build.steps import build_bitstream
from afs.build.vivado.runner import VivadoRun
from afs.build.workspace import Workspace
from afs.inputs.archive import CheckedInput
from afs.orchestration.artifacts import VivadoProgress
from afs.orchestration.licences import vivado_licence
from afs.settings import get_settings
from afs.tasks import build_step


@build_step("run-vivado")
def run_vivado(workspace: Workspace, checked: CheckedInput, image_id: str) -> VivadoRun:
    """Vivado holds one of the farm's floating licences while it runs, and only then: other
    builds fetch, check and upload meanwhile. Its progress is the image's progress artifact."""
    logger = get_run_logger()
    with vivado_licence(logger.info):
        progress = VivadoProgress(image_id)

        def on_line(line: str) -> None:
            logger.info("%s", line)
            progress.saw(line)

        run = build_bitstream(get_settings(), workspace, checked, on_line=on_line)
    logger.info("built with %s", run.tool_identity)
    return run
