from __future__ import annotations

from pathlib import Path

from prefect import task

from afs.build.logbundle import BuildOutcome
from afs.build.logbundle import package_logs as write_log_tarball
from afs.build.workspace import Workspace


@task(name="package-logs")
def package_logs(workspace: Workspace, outcome: BuildOutcome) -> Path:
    return write_log_tarball(workspace, outcome)
