from __future__ import annotations

from prefect import get_run_logger

from afs.build.steps import BuildJob, fetch_input
from afs.build.workspace import Workspace
from afs.settings import get_settings
from afs.storage import Download
from afs.tasks import storage_step


@storage_step("fetch-dcp")
def fetch_dcp(job: BuildJob, workspace: Workspace) -> Download:
    download = fetch_input(get_settings(), job, workspace)
    get_run_logger().info(
        "fetched %s: %d bytes, sha256 %s", job.request.dcp_location, download.size, download.sha256
    )
    return download
