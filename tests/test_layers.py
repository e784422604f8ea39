"""The layers hold: the domain, the catalog, the build and the API load without Prefect, and the
tenant's client loads neither the server, its database nor Prefect."""

from __future__ import annotations

import subprocess
import sys

import pytest


def loaded_by(*modules: str) -> set[str]:
    """The top-level packages and afs modules a fresh interpreter has after importing `modules`."""
    code = f"import sys\nimport {', '.join(modules)}\nprint('\\n'.join(sorted(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    names = completed.stdout.split()
    return {name.split(".")[0] for name in names} | {
        name for name in names if name.startswith("afs")
    }


@pytest.mark.parametrize(
    "module",
    [
        "afs.models",
        "afs.status",
        "afs.errors",
        "afs.catalog",
        "afs.inputs.archive",
        "afs.build.steps",
        "afs.api.app",
        "afs.client",
        "afs.client.commands",
    ],
)
def test_only_the_orchestration_layer_loads_prefect(module: str) -> None:
    assert "prefect" not in loaded_by(module)


def test_the_client_loads_neither_the_server_its_database_nor_prefect() -> None:
    loaded = loaded_by("afs.client.library", "afs.client.commands", "afs.client.config")
    assert {"fastapi", "starlette", "uvicorn", "sqlalchemy", "prefect"} & loaded == set()
    assert {"afs.api", "afs.catalog", "afs.orchestration", "afs.build"} & loaded == set()
    # A tenant's command starts in a fraction of a second: no third-party HTTP client either.
    assert {"httpx", "boto3"} & loaded == set()


def test_the_cli_loads_no_http_client_or_object_store_until_a_command_needs_one() -> None:
    loaded = loaded_by("afs.cli")
    assert {"httpx", "boto3", "botocore", "pydantic", "prefect", "fastapi"} & loaded == set()
