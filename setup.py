"""What pyproject.toml cannot say statically: which packages the wheel holds, and the commit it was
built from.

The repository keeps the Prefect code and the Tcl templates in top-level folders; the wheel
installs them inside the `afs` package, so that nothing with a generic name (`flows`, `tasks`)
lands at the top of site-packages.
"""

import runpy
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

FOLDERS_INSIDE_AFS = {
    "afs.flows": "flows",
    "afs.tasks": "tasks",
    "afs.deployments": "deployments",
    "afs.vivado_tcl": "vivado_tcl",
}


def _checkout_commit() -> str | None:
    # afs/version.py read as a file: the package's own dependencies need not be installed here.
    version = runpy.run_path(str(Path(__file__).parent / "afs" / "version.py"))
    return version["checkout_commit"]()


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
