"""The build host's disk fills up while it fetches a tenant's tarball."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from afs.status import ImageStatus
from tests.factory import Tenant
from tests.faults.conftest import (
    BuildHost,
    accepts_a_new_image,
    delivered_logs,
    finished,
    submit,
)

pytestmark = pytest.mark.slow

DISK = "1m"  # the builds directory's file system: room for a workspace and its logs
TARBALL_BYTES = 4 * 1024 * 1024  # a tarball that does not fit


@contextlib.contextmanager
def small_disk(directory: Path) -> Iterator[None]:
    """A tmpfs of DISK mounted over `directory` (root in a container that allows it, or skip)."""
    directory.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(directory)]
    mounted = subprocess.run(mount, capture_output=True, text=True, check=False)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield
    finally:
        # Lazily: a process of the host may still have the directory open.
        subprocess.run(["umount", "--lazy", str(directory)], check=True)


def test_a_disk_that_fills_during_the_fetch_ends_the_image_in_error_with_its_logs(
    host: BuildHost, tenant: Tenant
) -> None:
    with small_disk(host.builds_dir):
        image = submit(tenant, os.urandom(TARBALL_BYTES))
        record = finished(image.id)

        assert record.status is ImageStatus.ERROR
        assert record.message.startswith("INTERNAL_ERROR: "), record.message
        assert "No space left on device" in host.log.read_text(), "the operators learn why"
        delivered_logs(tenant, record)
        assert not (host.builds_dir / image.id).exists(), "the partial tarball is not left behind"
        assert accepts_a_new_image(tenant)
