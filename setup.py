"""What pyproject.toml cannot say statically: which packages the wheel holds, and the commit it was
built from.

The repository keeps the Prefect code and the Tcl templates in top-level folders; the wheel
installs them inside the `afs` package, so that nothing with a generic name (`flows`, `tasks`)
lands at the top of site-packages.
"""

import subprocess
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

FOLDERS_INSIDE_AFS = {
    "afs.flows": "flows",
    "afs.tasks": "tasks",
    "afs.deployments": "deployments",
    "afs.vivado_tcl": "vivado_tcl",
}


def _checkout_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


class BuildPyWithCommit(build_py):
    """Writes afs/COMMIT into a built wheel; an editable install asks git at run time instead."""

    def run(self) -> None:
        super().run()
        commit = _checkout_commit()
        if commit and not self.editable_mode:
            Path(self.build_lib, "afs", "COMMIT").write_text(commit + "\n")


setup(
    packages=[*find_packages(include=["afs", "afs.*"]), *FOLDERS_INSIDE_AFS],
    package_dir=FOLDERS_INSIDE_AFS,
    cmdclass={"build_py": BuildPyWithCommit},
)
