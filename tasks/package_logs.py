from __future__ import annotations

from pathlib import Path

from afs.build.logbundle import BuildOutcome
from afs.build.logbundle import package_logs as write_log_tarball
from afs.build.workspace import Workspace
from afs.tasks import build_step


@build_step("package-logs")
def package_logs(workspace: Workspace, outcome: BuildOutcome) -> Path:
    return write_log_tarball(workspace, outcome)
