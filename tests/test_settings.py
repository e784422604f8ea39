"""The settings: each described, the reference in docs/settings.md generated from the model, an
operator's settings file, `afs config` saying what a process runs with and where each value came
from, and the servers refusing secrets anyone can read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from afs.settings import (
    Settings,
    SettingsError,
    effective_settings,
    load_settings,
    production_refusals,
    settings_reference,
)

SETTINGS_DOC = Path(__file__).parents[1] / "docs" / "settings.md"


def test_every_setting_says_what_it_is() -> None:
    undescribed = [name for name, field in Settings.model_fields.items() if not field.description]
    assert undescribed == []


def test_the_settings_reference_is_the_models() -> None:
    """Regenerate with `afs config --reference` (docs/settings.md says how)."""
    document = SETTINGS_DOC.read_text()
    assert document.endswith(settings_reference())
    listed = [line.split("`")[1] for line in document.splitlines() if line.startswith("| `AFS_")]
    assert listed == [f"AFS_{name.upper()}" for name in Settings.model_fields]


def test_the_reference_is_the_same_on_every_machine() -> None:
    reference = settings_reference()
    assert str(Path.home()) not in reference
    assert sys.executable not in reference
    assert "afs-image-store-secret" not in reference  # a built-in secret is not printed


def test_effective_settings_name_their_source_and_mask_secrets(tmp_path: Path) -> None:
    environ = {"AFS_VIVADO_LICENCES": "8", "AFS_IMAGE_STORE_SECRET_KEY": "s3cr3t"}
    settings = Settings(home=tmp_path, vivado_licences=8, image_store_secret_key="s3cr3t")
    shown = {setting.variable: setting for setting in effective_settings(settings, environ)}
    assert (shown["AFS_VIVADO_LICENCES"].value, shown["AFS_VIVADO_LICENCES"].source) == (
        "8",
        "environment",
    )
    assert shown["AFS_IMAGE_STORE_SECRET_KEY"].value == "**********"
    assert shown["AFS_BUILD_POOL"].source == "default"
    assert "s3cr3t" not in repr(list(shown.values()))


def test_afs_config_names_a_bad_variable_and_exits_2() -> None:
    completed = _afs("config", AFS_VIVADO_LICENCES="many")
    assert completed.returncode == 2
    assert completed.stderr.startswith("afs config: AFS_VIVADO_LICENCES: ")
    assert completed.stdout == ""


def _afs(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """`afs` in an environment holding only `environ` (no AFS_ settings of the test session)."""
    return subprocess.run(
        [sys.executable, "-m", "afs.cli", *args],
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _settings_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "afs.env"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_a_settings_file_fills_what_the_environment_leaves_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _settings_file(
        tmp_path,
        "# the farm's settings\nAFS_VIVADO_LICENCES=8\nAFS_BUILD_POOL=from-file\n"
        "PREFECT_API_URL=http://prefect:4200/api\n",  # another program's line: left alone
    )
    monkeypatch.setenv("AFS_SETTINGS_FILE", str(path))
    monkeypatch.setenv("AFS_BUILD_POOL", "from-environment")
    settings = load_settings()
    assert settings.vivado_licences == 8
    assert settings.build_pool == "from-environment", "the environment wins over the file"
    shown = {setting.variable: setting.source for setting in effective_settings(settings)}
    assert shown["AFS_VIVADO_LICENCES"] == "file"
    assert shown["AFS_BUILD_POOL"] == "environment"
    assert shown["AFS_MAINTENANCE_POOL"] == "default"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("AFS_VIVADO_LICENSES=8\n", "AFS_VIVADO_LICENSES in {file}: not a setting"),
        ("AFS_VIVADO_LICENCES=many\n", "AFS_VIVADO_LICENCES in {file}: Input should be a valid"),
    ],
)
def test_a_settings_file_with_a_mistake_is_refused_naming_the_line_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, problem: str
) -> None:
    path = _settings_file(tmp_path, text)
    monkeypatch.setenv("AFS_SETTINGS_FILE", str(path))
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert str(raised.value).startswith(problem.format(file=path))


def test_a_settings_file_that_is_not_there_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AFS_SETTINGS_FILE", str(tmp_path / "missing.env"))
    with pytest.raises(SettingsError, match=r"^AFS_SETTINGS_FILE=.*missing\.env: no such file$"):
        load_settings()


def test_a_server_refuses_the_built_in_secrets_and_a_file_others_may_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AFS_IMAGE_STORE_ACCESS_KEY", raising=False)
    monkeypatch.delenv("AFS_IMAGE_STORE_SECRET_KEY", raising=False)
    assert [refusal.split(" ")[0] for refusal in production_refusals(load_settings())] == [
        "AFS_IMAGE_STORE_ACCESS_KEY",
        "AFS_IMAGE_STORE_SECRET_KEY",
    ]
    keys = "AFS_IMAGE_STORE_ACCESS_KEY=farm\nAFS_IMAGE_STORE_SECRET_KEY=kept-private\n"
    monkeypatch.setenv("AFS_SETTINGS_FILE", str(_settings_file(tmp_path, keys, mode=0o644)))
    (refusal,) = production_refusals(load_settings())
    assert refusal.endswith("afs.env may be read by other users; chmod 600 it")
    (tmp_path / "afs.env").chmod(0o600)
    assert production_refusals(load_settings()) == []


@pytest.mark.parametrize(
    "command", [["serve", "--port", "9"], ["worker"], ["deploy"], ["dispatcher"]]
)
def test_the_server_commands_will_not_start_with_a_built_in_secret(command: list[str]) -> None:
    completed = _afs(*command, AFS_IMAGE_STORE_SECRET_KEY="an-operators-own")
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr == (
        f"afs {command[0]}: AFS_IMAGE_STORE_ACCESS_KEY is the built-in value; "
        "set a secret of your own\n"
    )
    assert completed.stdout == ""


def test_doctor_reports_a_built_in_secret() -> None:
    completed = _afs("doctor", AFS_IMAGE_STORE_ACCESS_KEY="farm")
    assert completed.returncode == 1
    assert (
        "FAIL secrets: AFS_IMAGE_STORE_SECRET_KEY is the built-in value; set a secret of your own"
        in completed.stdout.splitlines()
    )
