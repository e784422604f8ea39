from __future__ import annotations

from prefect import get_run_logger

from afs.build.steps import MisroutedBuild, check_input, require_host_tool
from afs.build.workspace import Workspace
from afs.errors import ImageBuildError
from afs.inputs.archive import CheckedInput
from afs.settings import get_settings
from afs.tasks import build_step


@build_step("check-archive", expected=(ImageBuildError, MisroutedBuild))
def check_archive(workspace: Workspace) -> CheckedInput:
    """The tarball's checks, then whether this host has the Vivado it names."""
    settings = get_settings()
    checked = check_input(settings, workspace)
    get_run_logger().info(
        "DCP %s for part %s, top %s, shell %s, tool %s",
        checked.dcp_path.name,
        checked.dcp.part,
        checked.dcp.top,
        checked.manifest.shell_id,
        checked.manifest.tool_version,
    )
    require_host_tool(settings, checked)
    return checked
