"""Build-host checks: a misconfigured host says exactly what is wrong and takes no builds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from afs.devstack.samples import write_sample_dcp, write_sample_shell_dcp
from afs.models import FP1_KIT_FLOWS
from afs.orchestration.doctor import (
    all_checks,
    check_shells,
    check_storage,
    check_vivado,
    pin_shell,
)
from afs.settings import Settings, emulator_binary, get_settings

VIVADO_FLOW = FP1_KIT_FLOWS[0]


def settings_in(home: Path, **fields) -> Settings:
    return Settings(home=home, **fields)


def test_the_test_sessions_host_passes_every_check(factory: None) -> None:
    checks = all_checks(get_settings())
    assert [check.name for check in checks if not check.ok] == []
    assert {"vivado 2017.2", "shell 0x01010029", "tcl", "image store", "prefect"} <= {
        check.name for check in checks
    }


def test_a_missing_vivado_binary_is_named(tmp_path: Path) -> None:
    settings = settings_in(tmp_path, vivado_binaries={"2017.2": str(tmp_path / "no-vivado")})
    [check] = check_vivado(settings)
    assert not check.ok
    assert "2017.2" in check.detail
    assert "no-vivado" in check.detail


def test_a_binary_that_is_not_vivado_is_refused(tmp_path: Path) -> None:
    settings = settings_in(tmp_path, vivado_binaries={"2017.2": shutil.which("false")})
    [check] = check_vivado(settings)
    assert not check.ok
    assert "-version failed" in check.detail


def installed_shell(settings: Settings, shell_id: str = "0x01010029") -> Path:
    settings.shells_dir.mkdir(parents=True)
    path = write_sample_shell_dcp(settings.shells_dir / f"{shell_id}.dcp", shell_id)
    pin_shell(path)
    return path


def test_a_pinned_shell_passes(tmp_path: Path) -> None:
    settings = settings_in(tmp_path, kit_flows=[VIVADO_FLOW])
    installed_shell(settings)
    [check] = check_shells(settings)
    assert check.ok, check.detail


def test_a_shell_that_changed_since_it_was_pinned_fails_with_both_hashes(tmp_path: Path) -> None:
    settings = settings_in(tmp_path, kit_flows=[VIVADO_FLOW])
    path = installed_shell(settings)
    with path.open("ab") as shell:
        shell.write(b"tampered")
    [check] = check_shells(settings)
    assert not check.ok
    assert f"{path.name}.sha256 says" in check.detail


def test_a_shell_without_a_pin_or_for_another_part_fails(tmp_path: Path) -> None:
    settings = settings_in(tmp_path, kit_flows=list(FP1_KIT_FLOWS))
    path = installed_shell(settings)
    path.with_name(path.name + ".sha256").unlink()
    other = write_sample_dcp(settings.shells_dir / "0x01210101.dcp", part="xcku115-flvb2104-2-e")
    pin_shell(other)
    unpinned, wrong_part = check_shells(settings)
    assert "no expected sha256" in unpinned.detail
    assert "xcku115-flvb2104-2-e" in wrong_part.detail


def test_a_worker_with_a_missing_shell_refuses_to_start(tmp_path: Path) -> None:
    environment = {**os.environ, "AFS_HOME": str(tmp_path)}
    completed = subprocess.run(
        [sys.executable, "-m", "afs.cli", "worker"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    assert "shell 0x01010029: static checkpoint" in completed.stderr
    assert "is missing" in completed.stderr
    assert "not taking builds" in completed.stderr


@pytest.mark.parametrize("missing", ["AFS_OBS_ENDPOINT", "PREFECT_API_URL"])
def test_doctor_names_an_unset_endpoint(tmp_path: Path, missing: str) -> None:
    environment = {
        **os.environ,
        "AFS_HOME": str(tmp_path),
        "AFS_OBS_ENDPOINT": "http://127.0.0.1:9",
    }
    del environment[missing]
    completed = subprocess.run(
        [sys.executable, "-m", "afs.cli", "doctor"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 1
    assert f"{missing} is not set" in completed.stdout


def test_the_emulator_is_refused_where_the_host_does_not_allow_it(tmp_path: Path) -> None:
    settings = settings_in(
        tmp_path, vivado_binaries={"2017.2": emulator_binary()}, allow_emulator=False
    )
    [check] = check_vivado(settings)
    assert not check.ok
    assert "is the AFS emulator, not Vivado" in check.detail


def test_the_emulator_must_emulate_the_tool_version_it_stands_for(tmp_path: Path) -> None:
    standing_in = {"2017.2": emulator_binary(), "2017.4.op": emulator_binary("2017.4.op")}
    wrong = {"2017.4.op": emulator_binary("2017.2")}
    right, also_right = check_vivado(
        settings_in(tmp_path, vivado_binaries=standing_in, allow_emulator=True)
    )
    [refused] = check_vivado(settings_in(tmp_path, vivado_binaries=wrong, allow_emulator=True))

    assert right.ok, right.detail
    assert also_right.ok, also_right.detail
    assert "emulates Vivado v2017.4.op" in also_right.detail
    assert not refused.ok
    assert "is not Vivado v2017.4.op" in refused.detail


def test_the_image_store_check_changes_nothing(factory: None, tmp_path: Path) -> None:
    from afs import storage
    from afs.tenants import image_store_client

    settings = get_settings().model_copy(update={"image_store_bucket": "doctor-never-creates"})
    [check] = check_storage(settings)

    assert check.ok
    assert "not created yet" in check.detail
    assert not storage.bucket_exists(image_store_client(settings), "doctor-never-creates")


def test_a_vivado_of_another_version_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "vivado"
    fake.write_text("#!/bin/sh\necho 'Vivado v2018.3 (64-bit)'\n")
    fake.chmod(0o755)
    [check] = check_vivado(settings_in(tmp_path, vivado_binaries={"2017.2": str(fake)}))
    assert not check.ok
    assert "is not Vivado v2017.2" in check.detail
    fake.write_text("#!/bin/sh\necho 'Vivado v2017.2 (64-bit)'\n")
    [check] = check_vivado(settings_in(tmp_path, vivado_binaries={"2017.2": str(fake)}))
    assert check.ok, check.detail
