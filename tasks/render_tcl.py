from __future__ import annotations

from afs.build.steps import BuildJob, write_build_script
from afs.build.tcl import BuildScriptInputs
from afs.build.workspace import Workspace
from afs.inputs.archive import CheckedInput
from afs.settings import get_settings
from afs.tasks import build_step


@build_step("render-tcl")
def render_tcl(job: BuildJob, workspace: Workspace, checked: CheckedInput) -> BuildScriptInputs:
    return write_build_script(get_settings(), job, workspace, checked)
