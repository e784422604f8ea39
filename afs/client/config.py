"""Where the factory's client finds its keys: the environment, then a private config file.

Every value is read from its environment variable if set, else from the config file
(`AFS_CLIENT_CONFIG`, default `~/.afs/client.json`, which must be readable by its owner only):

| variable                 | file key              | what                                       |
|--------------------------|-----------------------|--------------------------------------------|
| `AFS_API_URL`            | `api_url`             | the factory's HTTP API, e.g. http://h:8080 |
| `AFS_ACCESS_KEY`         | `access_key`          | the API access key (AK)                    |
| `AFS_SECRET_KEY`         | `secret_key`          | its secret key (SK)                        |
| `AFS_PROJECT_ID`         | `project_id`          | the project the key is bound to            |
| `AFS_STORAGE_ENDPOINT`   | `storage.endpoint`    | the tenant's OBS/S3 endpoint               |
| `AFS_STORAGE_REGION`     | `storage.region`      | its region (default cn-north-1)            |
| `AFS_STORAGE_ACCESS_KEY` | `storage.access_key`  | the tenant's own storage keys: the client  |
| `AFS_STORAGE_SECRET_KEY` | `storage.secret_key`  | uploads DCPs and reads logs with them      |

The storage values are needed only to upload a tarball and to download a log tarball: the tenant
owns that bucket, so the client uses the tenant's keys, never the factory's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, SecretStr, ValidationError

from afs.errors import ConfigurationError
from afs.models import PROJECT_ID_PATTERN, StorageCredentials

CONFIG_FILE_VARIABLE = "AFS_CLIENT_CONFIG"
DEFAULT_CONFIG_FILE = Path.home() / ".afs" / "client.json"

M = TypeVar("M", bound=BaseModel)

_API_VARIABLES = {
    "api_url": "AFS_API_URL",
    "access_key": "AFS_ACCESS_KEY",
    "secret_key": "AFS_SECRET_KEY",
    "project_id": "AFS_PROJECT_ID",
}
_STORAGE_VARIABLES = {
    "endpoint": "AFS_STORAGE_ENDPOINT",
    "region": "AFS_STORAGE_REGION",
    "access_key": "AFS_STORAGE_ACCESS_KEY",
    "secret_key": "AFS_STORAGE_SECRET_KEY",
}


class ClientConfigError(ConfigurationError):
    """The client's configuration is missing a value, unreadable or invalid."""


class ClientConfig(BaseModel):
    # Only HTTP(S): the client opens this URL, and must never read a file or another scheme.
    api_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")]
    access_key: str
    secret_key: SecretStr
    project_id: Annotated[str, Field(pattern=PROJECT_ID_PATTERN)]
    storage: StorageCredentials | None = None
    config_file: Path | None = Field(None, description="the file consulted, for error messages")

    def require_storage(self) -> StorageCredentials:
        if self.storage is None:
            names = ", ".join(_STORAGE_VARIABLES[key] for key in ("access_key", "secret_key"))
            where = f" (or storage.access_key, storage.secret_key in {self.config_file})"
            raise ClientConfigError(
                "the tenant's storage keys are not configured: set "
                + names
                + (where if self.config_file else "")
            )
        return self.storage


def _read_file(path: Path) -> dict[str, Any]:
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return {}
    if mode & 0o077:
        raise ClientConfigError(
            f"{path} holds secret keys: it must be readable by its owner only "
            f"(chmod 600; its mode is {mode:o})"
        )
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ClientConfigError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(values, dict):
        raise ClientConfigError(f"{path} must hold a JSON object")
    return values


def _merge(
    variables: Mapping[str, str], environ: Mapping[str, str], file_values: Any
) -> dict[str, str]:
    from_file = file_values if isinstance(file_values, dict) else {}
    merged = {key: environ.get(name) or from_file.get(key) for key, name in variables.items()}
    return {key: value for key, value in merged.items() if value not in (None, "")}


def load_client_config(
    environ: Mapping[str, str] | None = None, path: Path | None = None
) -> ClientConfig:
    """The client's configuration; ClientConfigError names every variable that is missing."""
    environ = os.environ if environ is None else environ
    path = path or Path(environ.get(CONFIG_FILE_VARIABLE) or DEFAULT_CONFIG_FILE)
    file_values = _read_file(path)
    source = f"the environment or {path}"
    api = _merge(_API_VARIABLES, environ, file_values)
    missing = [name for key, name in _API_VARIABLES.items() if key not in api]
    if missing:
        raise ClientConfigError(
            f"not configured: {', '.join(missing)} (set them in the environment, or "
            f"{', '.join(key for key in _API_VARIABLES if key not in api)} in {path}, mode 0600)"
        )
    stored = _merge(_STORAGE_VARIABLES, environ, file_values.get("storage"))
    storage = _validated(StorageCredentials, stored, _STORAGE_VARIABLES, source) if stored else None
    values = {**api, "storage": storage, "config_file": path}
    return _validated(ClientConfig, values, _API_VARIABLES, source)


def save_client_config(config: ClientConfig, path: Path) -> None:
    """Write `config` as the file load_client_config reads: whole or not at all, mode 0600."""
    from afs.files import atomic_write

    values: dict[str, Any] = {
        "api_url": config.api_url,
        "access_key": config.access_key,
        "secret_key": config.secret_key.get_secret_value(),
        "project_id": config.project_id,
    }
    if config.storage is not None:
        values["storage"] = {
            "endpoint": config.storage.endpoint,
            "region": config.storage.region,
            "access_key": config.storage.access_key.get_secret_value(),
            "secret_key": config.storage.secret_key.get_secret_value(),
        }
    with atomic_write(path, mode=0o600) as out:
        out.write((json.dumps(values, indent=2) + "\n").encode())


def _validated(
    model: type[M], values: dict[str, Any], variables: Mapping[str, str], source: str
) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        # pydantic's own message would quote the input, secrets included: name the variables.
        fields = {str(error["loc"][0]) for error in exc.errors()}
        names = sorted(variables.get(field, field) for field in fields)
        raise ClientConfigError(f"missing or invalid in {source}: {', '.join(names)}") from None
