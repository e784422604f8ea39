from __future__ import annotations

from prefect import get_run_logger

from afs.build.steps import check_input
from afs.build.workspace import Workspace
from afs.inputs.archive import CheckedInput
from afs.settings import get_settings
from tasks import build_step


@build_step("check-archive")
def check_archive(workspace: Workspace) -> CheckedInput:
    checked = check_input(get_settings(), workspace)
    get_run_logger().info(
        "DCP %s for part %s, top %s, shell %s, tool %s",
        checked.dcp_path.name,
        checked.dcp.part,
        checked.dcp.top,
        checked.manifest.shell_id,
        checked.manifest.tool_version,
    )
    return checked
