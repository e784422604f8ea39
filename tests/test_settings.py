"""The settings: each described, the reference in docs/settings.md generated from the model, and
`afs config` saying what a process runs with and where each value came from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from afs.settings import Settings, effective_settings, settings_reference

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
    completed = subprocess.run(
        [sys.executable, "-m", "afs.cli", "config"],
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "AFS_VIVADO_LICENCES": "many"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.startswith("afs config: AFS_VIVADO_LICENCES: ")
    assert completed.stdout == ""
