"""Where the client's keys come from: the environment first, then a private config file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from afs.client.config import ClientConfigError, load_client_config

PROJECT = "0123456789abcdef0123456789abcdef"
API_ENVIRONMENT = {
    "AFS_API_URL": "http://127.0.0.1:8080",
    "AFS_ACCESS_KEY": "AK",
    "AFS_SECRET_KEY": "SK-from-environment",
    "AFS_PROJECT_ID": PROJECT,
}


def write_config(path: Path, values: dict, mode: int = 0o600) -> Path:
    path.write_text(json.dumps(values))
    path.chmod(mode)
    return path


def test_the_environment_alone_configures_the_api_without_storage(tmp_path: Path) -> None:
    config = load_client_config(API_ENVIRONMENT, tmp_path / "absent.json")

    assert config.api_url == "http://127.0.0.1:8080"
    assert config.access_key == "AK"
    assert config.secret_key.get_secret_value() == "SK-from-environment"
    assert config.project_id == PROJECT
    assert config.storage is None


def test_the_file_fills_in_what_the_environment_does_not_set(tmp_path: Path) -> None:
    path = write_config(
        tmp_path / "client.json",
        {
            "api_url": "http://factory:9000",
            "access_key": "AK-file",
            "secret_key": "SK-file",
            "project_id": PROJECT,
            "storage": {"endpoint": "http://obs:9000", "access_key": "sak", "secret_key": "ssk"},
        },
    )

    config = load_client_config({"AFS_ACCESS_KEY": "AK-env"}, path)

    assert config.access_key == "AK-env"
    assert config.secret_key.get_secret_value() == "SK-file"
    assert config.api_url == "http://factory:9000"
    storage = config.require_storage()
    assert storage.endpoint == "http://obs:9000"
    assert storage.region == "cn-north-1"
    assert storage.secret_key.get_secret_value() == "ssk"


def test_the_file_is_found_through_afs_client_config(tmp_path: Path) -> None:
    path = write_config(tmp_path / "elsewhere.json", {"secret_key": "SK-file"})
    environment = {**API_ENVIRONMENT, "AFS_SECRET_KEY": "", "AFS_CLIENT_CONFIG": str(path)}

    assert load_client_config(environment).secret_key.get_secret_value() == "SK-file"


def test_a_config_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path / "client.json", {"secret_key": "SK"}, mode=0o644)

    with pytest.raises(ClientConfigError, match="owner only"):
        load_client_config(API_ENVIRONMENT, path)


def test_missing_keys_are_named_by_their_variables(tmp_path: Path) -> None:
    with pytest.raises(ClientConfigError) as refused:
        load_client_config({"AFS_API_URL": "http://x"}, tmp_path / "absent.json")

    message = str(refused.value)
    assert "AFS_ACCESS_KEY, AFS_SECRET_KEY, AFS_PROJECT_ID" in message
    assert "AFS_API_URL" not in message
    assert str(tmp_path / "absent.json") in message


def test_an_invalid_value_is_named_and_no_secret_is_echoed(tmp_path: Path) -> None:
    environment = {**API_ENVIRONMENT, "AFS_PROJECT_ID": "Not-A-Project"}

    with pytest.raises(ClientConfigError) as refused:
        load_client_config(environment, tmp_path / "absent.json")

    assert "AFS_PROJECT_ID" in str(refused.value)
    assert "SK-from-environment" not in str(refused.value)


def test_a_storage_endpoint_without_the_tenants_keys_names_them(tmp_path: Path) -> None:
    environment = {**API_ENVIRONMENT, "AFS_STORAGE_ENDPOINT": "http://obs:9000"}

    with pytest.raises(ClientConfigError) as refused:
        load_client_config(environment, tmp_path / "absent.json")

    assert "AFS_STORAGE_ACCESS_KEY" in str(refused.value)
    assert "AFS_STORAGE_SECRET_KEY" in str(refused.value)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://factory", "factory:9000"])
def test_an_api_url_that_is_not_http_is_refused_by_its_variable(tmp_path: Path, url: str) -> None:
    environment = {**API_ENVIRONMENT, "AFS_API_URL": url}

    with pytest.raises(ClientConfigError) as refused:
        load_client_config(environment, tmp_path / "absent.json")

    assert "AFS_API_URL" in str(refused.value)
