"""The `{image_id}_log.tar` a tenant gets back, on success and on every failure."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

from pydantic import BaseModel

from afs.build.workspace import Workspace
from afs.errors import ImageBuildError
from afs.status import ImageStatus


class BuildOutcome(BaseModel):
    """What `status.json` in the log tarball says."""

    image_id: str
    status: ImageStatus
    message: str | None = None

    @classmethod
    def of(cls, image_id: str, failure: ImageBuildError | None) -> BuildOutcome:
        if failure is None:
            return cls(image_id=image_id, status=ImageStatus.ACTIVE)
        return cls(image_id=image_id, status=ImageStatus.ERROR, message=failure.message)


def _bundled_files(workspace: Workspace) -> list[tuple[Path, str]]:
    """(file, name in the tarball) for every log-worthy file the build produced so far."""
    candidates = [
        (workspace.pipeline_log, "pipeline.log"),
        (workspace.run_log, "run.log"),
        (workspace.build_script, "build.tcl"),
        (workspace.input_dir / "manifest.json", "manifest.json"),
    ]
    for directory, prefix in ((workspace.vivado_dir, "vivado"), (workspace.reports_dir, "reports")):
        if directory.is_dir():
            candidates += [
                (path, f"{prefix}/{path.relative_to(directory)}")
                for path in sorted(directory.rglob("*"))
                if path.is_file() and path.parent.name != "tmp"
            ]
    return [(path, name) for path, name in candidates if path.is_file()]


def package_logs(workspace: Workspace, outcome: BuildOutcome) -> Path:
    """Write the log tarball (plain tar, top directory `{image_id}_log/`) and return its path."""
    target = workspace.log_tarball(outcome.image_id)
    top = f"{outcome.image_id}_log"
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as bundle:
        for path, name in _bundled_files(workspace):
            bundle.add(path, arcname=f"{top}/{name}", recursive=False)
        status = json.dumps(outcome.model_dump(mode="json"), indent=2).encode()
        info = tarfile.TarInfo(f"{top}/status.json")
        info.size = len(status)
        info.mtime = int(time.time())
        info.mode = 0o644
        bundle.addfile(info, io.BytesIO(status))
    return target
