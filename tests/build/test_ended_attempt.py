"""The log tarball of an attempt whose own process is gone: what Prefect kept and the host held."""

from __future__ import annotations

import json

from afs.build.ended_attempt import deliver_ended_attempt_logs
from afs.build.workspace import Workspace
from afs.catalog import default_catalog
from afs.models import ImageRecord
from afs.settings import get_settings
from tests.factory import Tenant, read_log_tarball

MESSAGE = "WORKER_CRASHED: flow run run-1 crashed"
RUN_LOG = ["2026-12-01T10:00:00+00:00 INFO prefect.task_runs: fetched the DCP"]


def image_of(tenant: Tenant) -> ImageRecord:
    return default_catalog().register(tenant.project_id, tenant.request("dcp/design.tar"))


def test_the_attempts_workspace_on_this_host_is_packed_and_removed(tenant: Tenant) -> None:
    image = image_of(tenant)
    workspace = Workspace.create(get_settings().builds_dir, image.id, "run-1-1")
    workspace.vivado_dir.mkdir()
    (workspace.vivado_dir / "vivado.log").write_text("INFO: [Common 17-206] Exiting Vivado\n")
    workspace.pipeline_log.write_text("the steps before vivado\n")

    location = deliver_ended_attempt_logs(get_settings(), image, MESSAGE, "run-1", RUN_LOG)

    assert location == f"{tenant.bucket}:dcp/{image.id}_log.tar"
    logs = read_log_tarball(tenant.get(f"dcp/{image.id}_log.tar"))
    assert json.loads(logs["status.json"]) == {
        "image_id": image.id,
        "status": "error",
        "message": MESSAGE,
    }
    assert logs["run.log"].decode().splitlines() == RUN_LOG
    assert logs["vivado/vivado.log"].startswith(b"INFO: [Common 17-206]")
    assert logs["pipeline.log"] == b"the steps before vivado\n"
    assert not (get_settings().builds_dir / image.id).exists()


def test_an_attempt_that_ran_elsewhere_still_gets_status_and_the_run_log(tenant: Tenant) -> None:
    image = image_of(tenant)

    deliver_ended_attempt_logs(get_settings(), image, MESSAGE, "run-on-another-host", RUN_LOG)

    logs = read_log_tarball(tenant.get(f"dcp/{image.id}_log.tar"))
    assert set(logs) == {"status.json", "run.log"}


def test_an_unreachable_bucket_is_reported_not_raised(tenant: Tenant) -> None:
    image = image_of(tenant)
    tenant.client.delete_bucket(Bucket=tenant.bucket)

    assert deliver_ended_attempt_logs(get_settings(), image, MESSAGE, "run-1", RUN_LOG) is None
