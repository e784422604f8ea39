"""Checks of a build host: what must be true before it may take builds.

`afs worker` refuses to start while a configuration check fails (a missing Vivado or shell is the
operator's problem, not a tenant's failed image); `afs doctor` prints every check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from afs.build.vivado.runner import VivadoConfigError, tool_identity, vivado_binary_for
from afs.files import file_sha256
from afs.inputs.dcp import DcpError, read_dcp
from afs.settings import EMULATOR_COMMAND, VU9P_PART, Settings, production_refusals


class Check(BaseModel):
    name: str
    ok: bool
    detail: str


def shell_pin(shell_dcp: Path) -> Path:
    """The file holding the expected sha256 of a shell checkpoint, installed beside it."""
    return shell_dcp.with_name(shell_dcp.name + ".sha256")


def pin_shell(shell_dcp: Path) -> None:
    shell_pin(shell_dcp).write_text(file_sha256(shell_dcp) + "\n")


def check_vivado(settings: Settings) -> list[Check]:
    return [
        Check(name=f"vivado {tool_version}", **_vivado_state(settings, tool_version))
        for tool_version in sorted(settings.vivado_binaries)
    ]


def _vivado_state(settings: Settings, tool_version: str) -> dict[str, bool | str]:
    """A Vivado is usable if `-version` names the tool version it is configured for; the
    emulator only where the host says so, so a production host never builds emulated images."""
    try:
        identity = tool_identity(vivado_binary_for(tool_version, settings.vivado_binaries))
    except VivadoConfigError as exc:
        return {"ok": False, "detail": str(exc)}
    if identity.startswith(EMULATOR_COMMAND) and not settings.allow_emulator:
        return {
            "ok": False,
            "detail": f"{identity!r} is the AFS emulator, not Vivado; configure "
            "AFS_VIVADO_BINARIES, or set AFS_ALLOW_EMULATOR=true on a development host",
        }
    if f"v{tool_version}" not in identity.split():
        return {"ok": False, "detail": f"{identity!r} is not Vivado v{tool_version}"}
    return {"ok": True, "detail": identity}


def check_shells(settings: Settings) -> list[Check]:
    checks = []
    for shell_id in settings.allowed_shell_ids:
        path = settings.shells_dir / f"{shell_id}.dcp"
        checks.append(Check(name=f"shell {shell_id}", **_shell_state(path)))
    return checks


def _shell_state(path: Path) -> dict[str, bool | str]:
    if not path.is_file():
        return {"ok": False, "detail": f"static checkpoint {path} is missing"}
    pin = shell_pin(path)
    if not pin.is_file():
        return {"ok": False, "detail": f"no expected sha256 in {pin}"}
    expected, actual = pin.read_text().strip().lower(), file_sha256(path)
    if actual != expected:
        return {"ok": False, "detail": f"sha256 of {path} is {actual}, {pin.name} says {expected}"}
    try:
        part = read_dcp(path).part
    except DcpError as exc:
        return {"ok": False, "detail": str(exc)}
    if part != VU9P_PART:
        return {"ok": False, "detail": f"{path} is for part {part}, not {VU9P_PART}"}
    return {"ok": True, "detail": f"{path} sha256 {actual}"}


def check_tcl() -> list[Check]:
    """The emulator runs scripts in Python's Tcl; real Vivado brings its own."""
    try:
        import tkinter

        version = tkinter.Tcl().eval("info patchlevel")
    except Exception as exc:  # tkinter raises TclError or ImportError depending on what is missing
        return [Check(name="tcl", ok=False, detail=f"Tcl is not available: {exc}")]
    return [Check(name="tcl", ok=True, detail=f"Tcl {version}")]


def check_storage(settings: Settings) -> list[Check]:
    from afs import storage
    from afs.tenants import image_store_client

    if settings.obs_endpoint is None:
        return [Check(name="image store", ok=False, detail="AFS_OBS_ENDPOINT is not set")]
    try:
        exists = storage.bucket_exists(image_store_client(settings), settings.image_store_bucket)
    except storage.StorageError as exc:
        return [Check(name="image store", ok=False, detail=str(exc))]
    detail = f"bucket {settings.image_store_bucket}"
    if not exists:
        detail += ": not created yet (the first image upload creates it)"
    return [Check(name="image store", ok=True, detail=detail)]


def check_prefect() -> list[Check]:
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        return [Check(name="prefect", ok=False, detail="PREFECT_API_URL is not set")]
    with get_client(sync_client=True) as client:
        failure = client.api_healthcheck()
    if failure is not None:
        return [Check(name="prefect", ok=False, detail=f"{url}: {failure}")]
    return [Check(name="prefect", ok=True, detail=f"{url} is healthy")]


def check_secrets(settings: Settings) -> list[Check]:
    """What `afs serve`, `afs worker` and `afs deploy` refuse to start with."""
    refusals = production_refusals(settings)
    if not refusals:
        return [Check(name="secrets", ok=True, detail="none is a built-in value")]
    return [Check(name="secrets", ok=False, detail=refusal) for refusal in refusals]


def configuration_checks(settings: Settings) -> list[Check]:
    """What a worker needs before it takes a build: its Vivados and its shells."""
    return check_vivado(settings) + check_shells(settings)


def all_checks(settings: Settings) -> list[Check]:
    steps: list[Callable[[], list[Check]]] = [
        lambda: check_secrets(settings),
        lambda: configuration_checks(settings),
        check_tcl,
        lambda: check_storage(settings),
        check_prefect,
    ]
    return [check for step in steps for check in step()]
