from __future__ import annotations

from prefect import get_run_logger

from afs.build.steps import build_bitstream
from afs.build.vivado.runner import VivadoRun
from afs.build.workspace import Workspace
from afs.inputs.archive import CheckedInput
from afs.settings import get_settings
from tasks import build_step


@build_step("run-vivado")
def run_vivado(workspace: Workspace, checked: CheckedInput) -> VivadoRun:
    logger = get_run_logger()
    run = build_bitstream(get_settings(), workspace, checked, on_line=logger.info)
    logger.info("built with %s", run.tool_identity)
    return run
