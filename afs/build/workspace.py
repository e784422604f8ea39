"""The local directory one build works in, and where each file of the build lives in it."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import BaseModel


class Workspace(BaseModel):
    root: Path

    @classmethod
    def create(cls, builds_dir: Path, image_id: str) -> Workspace:
        """A fresh, empty workspace (a previous attempt's leftovers are removed)."""
        root = builds_dir / image_id
        shutil.rmtree(root, ignore_errors=True)
        workspace = cls(root=root)
        for directory in (root, workspace.input_dir, workspace.reports_dir, workspace.output_dir):
            directory.mkdir(parents=True, exist_ok=True)
        return workspace

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

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
