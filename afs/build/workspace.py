"""The local directory one build works in, and where each file of the build lives in it."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from pydantic import BaseModel


class Workspace(BaseModel):
    """`<builds>/<image id>/<attempt>/`: one directory per build attempt, so a new attempt never
    works in (or removes) the directory of an earlier one whose processes may still be ending."""

    root: Path

    @classmethod
    def create(cls, builds_dir: Path, image_id: str, attempt: str) -> Workspace:
        """A fresh, empty workspace for `attempt` (a flow run id and its run count)."""
        root = builds_dir / image_id / attempt
        shutil.rmtree(root, ignore_errors=True)
        workspace = cls(root=root)
        for directory in (root, workspace.input_dir, workspace.reports_dir, workspace.output_dir):
            directory.mkdir(parents=True, exist_ok=True)
        return workspace

    @classmethod
    def left_by(cls, builds_dir: Path, image_id: str, flow_run_id: str) -> list[Workspace]:
        """The workspaces a flow run's attempts left on this host, newest first."""
        roots = (builds_dir / image_id).glob(f"{flow_run_id}-*")
        return [
            cls(root=root)
            for root in sorted(roots, key=lambda path: path.stat().st_mtime, reverse=True)
            if root.is_dir()
        ]

    @property
    def input_tarball(self) -> Path:
        return self.root / "input.tar"

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def build_script(self) -> Path:
        return self.root / "build.tcl"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def vivado_dir(self) -> Path:
        return self.root / "vivado"

    @property
    def pipeline_log(self) -> Path:
        return self.root / "pipeline.log"

    @property
    def image_file(self) -> Path:
        return self.root / "image.aei"

    def log_tarball(self, image_id: str) -> Path:
        return self.root / f"{image_id}_log.tar"

    @property
    def run_log(self) -> Path:
        """The run's log as Prefect kept it, for a build whose own process could not pack it."""
        return self.root / "run.log"

    def remove(self) -> None:
        """Remove this attempt's directory, and the image's once no attempt is left in it."""
        shutil.rmtree(self.root, ignore_errors=True)
        with contextlib.suppress(OSError):  # another attempt's directory is still there
            self.root.parent.rmdir()
