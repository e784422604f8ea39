"""Every way Vivado can fail, injected through the emulator, reaches the image as its cause.

The message carries Vivado's first error lines, the log tarball carries Vivado's log, and no
Vivado process outlives the build.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from afs.errors import FailureCause
from afs.settings import get_settings
from afs.status import ImageStatus
from tests.factory import Tenant, build_processes, processes_mentioning, sample_tarball
from tests.flows.test_create_fpga_image import assert_failed_with, build, logs_of


@pytest.fixture
def build_timeout(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Builds time out after 3 s for this test."""
    monkeypatch.setenv("AFS_BUILD_TIMEOUT_SECONDS", "3")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("fault", "cause", "words"),
    [
        ("timing_violation", FailureCause.TIMING_VIOLATION, ["worst setup slack"]),
        ("pr_verify_incompatible", FailureCause.PR_VERIFY_FAILED, ["ERROR:"]),
        ("drc_error", FailureCause.BITSTREAM_GENERATE_ERROR, ["ERROR:", "DRC"]),
        ("tcl_error", FailureCause.BITSTREAM_GENERATE_ERROR, ["ERROR:"]),
        ("crash", FailureCause.BITSTREAM_GENERATE_ERROR, ["SIGSEGV"]),
    ],
)
def test_a_vivado_failure_becomes_its_cause_with_the_first_errors(
    tenant: Tenant, tmp_path: Path, fault: str, cause: FailureCause, words: list[str]
) -> None:
    record = build(tenant, sample_tarball(tmp_path, emulator_fault=fault))
    assert_failed_with(tenant, record, cause, *words)
    assert "vivado/vivado.stdout" in logs_of(tenant, record)


@pytest.mark.parametrize("fault", ["hang", "slow:30"])
def test_a_build_past_its_time_limit_is_killed_with_every_process_it_started(
    tenant: Tenant, tmp_path: Path, build_timeout: None, fault: str
) -> None:
    record = build(tenant, sample_tarball(tmp_path, emulator_fault=fault))
    assert_failed_with(tenant, record, FailureCause.BUILD_TIMEOUT, "3 s")
    assert build_processes(record.id) == []
    assert processes_mentioning("while True: time.sleep(60)") == [], "vivado's helper is gone"


def test_a_slow_build_within_its_time_limit_succeeds(tenant: Tenant, tmp_path: Path) -> None:
    record = build(tenant, sample_tarball(tmp_path, emulator_fault="slow:2"))
    assert record.status is ImageStatus.ACTIVE, record.message


def test_a_flood_of_log_output_is_kept_whole_and_the_image_still_builds(
    tenant: Tenant, tmp_path: Path
) -> None:
    record = build(tenant, sample_tarball(tmp_path, emulator_fault="log_flood:40"))
    assert record.status is ImageStatus.ACTIVE, record.message
    logs = logs_of(tenant, record)
    assert len(logs["vivado/vivado.stdout"]) > 40 * 1024 * 1024
    assert json.loads(logs["status.json"])["status"] == "active"
