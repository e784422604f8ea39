from __future__ import annotations

from prefect import task

from afs.archive import CheckedInput
from afs.build import BuildJob, write_build_script
from afs.settings import get_settings
from afs.tcl import BuildScriptInputs
from afs.workspace import Workspace


@task(name="render-tcl")
def render_tcl(job: BuildJob, workspace: Workspace, checked: CheckedInput) -> BuildScriptInputs:
    return write_build_script(get_settings(), job, workspace, checked)
