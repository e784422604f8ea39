"""Which factory this is: the release and the commit it was built from (`afs --version`, the
deployments' version in the Prefect UI)."""

from __future__ import annotations

import subprocess
from importlib import resources
from importlib.metadata import version as package_version
from pathlib import Path

# Written into a built wheel by setup.py; a checkout has none and asks git.
_COMMIT_FILE = "COMMIT"


def checkout_commit() -> str | None:
    """The commit of the checkout this file is in, or None when it is not in one."""
    checkout = Path(__file__).resolve().parents[1]
    if not (checkout / "pyproject.toml").is_file():
        return None  # an installed copy without a stamp: git would name an unrelated repository
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=checkout,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit or None


def build_commit() -> str | None:
    """The commit this code was built from, or None when nothing records it."""
    stamp = resources.files("afs").joinpath(_COMMIT_FILE)
    if stamp.is_file():
        return stamp.read_text().strip() or None
    return checkout_commit()


def release() -> str:
    """The installed distribution's version (pyproject.toml's)."""
    return package_version("afs")


def factory_version() -> str:
    """The release, and the commit as a local version label when known (`0.1.0+g1a2b3c4d5e6f`)."""
    commit = build_commit()
    return f"{release()}+g{commit}" if commit else release()
