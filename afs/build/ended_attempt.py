"""The log tarball of an attempt whose process could not deliver one (killed, crashed, cancelled).

Whoever records such an end (the worker's hook, the reconcile flow) packs what is known: the run's
log as Prefect kept it, `status.json`, and whatever the attempt's workspace still holds on this
host; then it removes that workspace, since no process of the attempt is left to use it.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from pathlib import Path

from afs.build.logbundle import BuildOutcome, package_logs
from afs.build.steps import BuildJob, deliver_logs
from afs.build.workspace import Workspace
from afs.errors import ImageBuildError
from afs.models import ImageRecord
from afs.settings import Settings
from afs.status import ImageStatus

log = logging.getLogger(__name__)


def _pack_and_deliver(
    settings: Settings, job: BuildJob, workspace: Workspace, message: str, run_log: Iterable[str]
) -> str:
    workspace.run_log.write_text("".join(f"{line}\n" for line in run_log))
    outcome = BuildOutcome(image_id=job.image_id, status=ImageStatus.ERROR, message=message)
    return deliver_logs(settings, job, package_logs(workspace, outcome))


def deliver_ended_attempt_logs(
    settings: Settings,
    record: ImageRecord,
    message: str,
    flow_run_id: str,
    run_log: Iterable[str],
) -> str | None:
    """Upload `{image_id}_log.tar` for an attempt that ended as `message`; returns `bucket:key`.

    Never raises for the tenant's storage: the image must still be marked even if its bucket is
    gone, so a failed upload is logged for the operators and None returned.
    """
    job = BuildJob(image_id=record.id, project_id=record.project_id, request=record.request)
    left = Workspace.left_by(settings.builds_dir, record.id, flow_run_id)
    try:
        if left:
            return _pack_and_deliver(settings, job, left[0], message, run_log)
        # The attempt ran on another host (or never started): pack what Prefect kept.
        with tempfile.TemporaryDirectory(prefix=f"afs-{record.id}-") as scratch:
            workspace = Workspace(root=Path(scratch))
            return _pack_and_deliver(settings, job, workspace, message, run_log)
    except ImageBuildError as exc:
        log.warning("the log tarball of image %s was not delivered: %s", record.id, exc.message)
        return None
    except OSError:
        log.warning("the log tarball of image %s could not be packed", record.id, exc_info=True)
        return None
    finally:
        for workspace in left:
            workspace.remove()
