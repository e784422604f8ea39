"""The factory's one settings object (environment prefix `AFS_`)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from afs.errors import ConfigurationError
from afs.models import FP1_KIT_FLOWS, KitFlow, kit_shells

VU9P_PART = "xcvu9p-flgb2104-2-i"
VIVADO_TERM_GRACE_SECONDS = 10.0
EMULATOR_COMMAND = "afs-vivado-emulator"


def emulator_binary(tool_version: str | None = None) -> str:
    """The Vivado emulator installed beside this interpreter (the embedded default's `vivado`);
    with a tool version, the command that emulates that Vivado (`afs-vivado-emulator-2017.4.op`)."""
    command = EMULATOR_COMMAND if tool_version is None else f"{EMULATOR_COMMAND}-{tool_version}"
    beside = Path(sys.executable).parent / command
    return str(beside) if beside.exists() else (shutil.which(command) or command)


class StorageBudget(BaseModel):
    """How long one storage call may go unanswered; afs.storage.s3_client says how it binds."""

    model_config = ConfigDict(frozen=True)  # hashable: the API caches a client per budget

    connect_timeout_seconds: float = Field(5, gt=0, description="to open a connection")
    read_timeout_seconds: float = Field(
        20, gt=0, description="for each socket read or write; a transfer that moves never hits it"
    )
    deadline_seconds: float = Field(
        30, gt=0, description="no retry starts that could end later than this after the call did"
    )
    max_attempts: int = Field(5, ge=1, description="attempts per call, the first included")


DEFAULT_STORAGE_BUDGET = StorageBudget()  # also the tenant's CLI's, which reads no AFS_ settings


# Every setting is an environment variable of this prefix (or a line of AFS_SETTINGS_FILE).
_PREFIX = "AFS_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=_PREFIX, env_nested_delimiter="__", extra="ignore")

    home: Path = Field(Path.home() / ".afs", description="where all local state lives")
    catalog_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in home")

    obs_endpoint: str | None = Field(None, description="S3/OBS endpoint; None: local dev store")
    obs_region: str = Field("cn-north-1", description="region the storage calls are signed for")
    image_store_bucket: str = Field(
        "afs-image-store", description="where image files go (never a tenant's bucket)"
    )
    image_store_access_key: SecretStr = Field(
        SecretStr("afs-image-store"), description="the image store's access key"
    )
    image_store_secret_key: SecretStr = Field(
        SecretStr("afs-image-store-secret"), description="the image store's secret key"
    )

    tenants_file: Path | None = Field(
        None, description="JSON {project_id: tenant storage}; default <home>/tenants.json"
    )

    credentials_key_file: Path | None = Field(
        None,
        description="key encrypting the API's secret keys at rest (mode 0600); every API replica "
        "needs the same file; default <home>/credentials.key",
    )
    api_max_body_bytes: int = Field(64 * 1024, description="larger request bodies get 413")
    api_clock_skew_seconds: int = Field(15 * 60, description="accepted X-Sdk-Date skew")

    kit_flows: list[KitFlow] = Field(
        default_factory=lambda: list(FP1_KIT_FLOWS),
        min_length=1,
        description="JSON list of the FP1 kit's pairings of flow_type, shell_id and tool_version "
        "that the factory builds (a manifest that breaks them is refused): each shell's static "
        "checkpoint is in <home>/shells, each tool version is one build queue, and the first "
        "pairing's queue takes the runs started from the UI",
    )
    vivado_binaries: dict[str, str] = Field(
        default_factory=lambda: {
            version: emulator_binary(version) for version in ("2017.2", "2017.4.op")
        },
        description="JSON {tool_version: path}: the Vivado installations this build host has",
        json_schema_extra={
            "shown_default": "the emulator standing for each version "
            "(afs-vivado-emulator-VERSION; -version says which)"
        },
    )
    allow_emulator: bool = Field(
        False, description="let the AFS Vivado emulator build images (development hosts only)"
    )
    build_timeout_seconds: int = Field(4 * 3600, description="Vivado's time limit")
    vivado_term_grace_seconds: float = Field(
        VIVADO_TERM_GRACE_SECONDS,
        gt=0,
        description="after SIGTERM (cancel, timeout), how long Vivado has before SIGKILL",
    )
    zombie_after_seconds: int = Field(
        300,
        ge=45,
        description="a run whose heartbeats (every 30 s) stopped this long is crashed as a zombie; "
        "ten missed heartbeats, so a host busy for hours on Vivado is not mistaken for a dead one",
    )
    maintenance_run_retention_days: float = Field(
        7,
        gt=0,
        description="how long Prefect keeps ended reconcile and reprocess runs (image runs are "
        "kept); the reconcile run deletes older ones",
    )
    build_pool: str = Field("fpga-builders", description="the process work pool of builds")
    maintenance_pool: str = Field(
        "afs-maintenance", description="the work pool of reconcile, reprocess and delete runs"
    )
    vivado_licences: int = Field(
        4, ge=1, description="floating Vivado licences: builds running Vivado at once, farm-wide"
    )
    drain_timeout_seconds: float = Field(
        4 * 3600,
        ge=0,
        description="after SIGTERM, how long `afs worker` lets its builds finish before stopping "
        "them (their images end WORKER_CRASHED, which reprocessing retries)",
    )
    max_build_attempts: int = Field(3, description="builds per image, reprocessing included")
    storage_step_retries: int = Field(
        4,
        ge=0,
        description="times a build step retries a store that did not answer (fetch, uploads) "
        "before the image fails STORAGE_UNAVAILABLE",
    )
    storage_step_backoff_seconds: float = Field(
        10.0,
        gt=0,
        description="the first wait before such a retry; each next one doubles (10 s: about "
        "2.5 minutes in all, with 50 % jitter)",
    )

    # Flat fields, not nested StorageBudget models: setting one AFS_API_STORAGE__* variable would
    # reset that model's other fields to StorageBudget's defaults instead of the API's.
    storage_connect_timeout_seconds: float = Field(
        DEFAULT_STORAGE_BUDGET.connect_timeout_seconds,
        gt=0,
        description="storage calls of builds, the image store and the CLI: connect",
    )
    storage_read_timeout_seconds: float = Field(
        DEFAULT_STORAGE_BUDGET.read_timeout_seconds,
        gt=0,
        description="longest silence within one storage call (each socket read/write)",
    )
    storage_deadline_seconds: float = Field(
        DEFAULT_STORAGE_BUDGET.deadline_seconds,
        gt=0,
        description="no storage retry starts that could end later than this per call",
    )
    storage_max_attempts: int = Field(
        DEFAULT_STORAGE_BUDGET.max_attempts, ge=1, description="attempts per storage call"
    )
    api_storage_connect_timeout_seconds: float = Field(
        3, gt=0, description="the API's DCP check (a create request waits for it): connect"
    )
    api_storage_read_timeout_seconds: float = Field(
        5, gt=0, description="the API's DCP check: longest silence"
    )
    api_storage_deadline_seconds: float = Field(
        10, gt=0, description="the API's DCP check: no retry that could end later than this"
    )
    api_storage_max_attempts: int = Field(2, ge=1, description="the API's DCP check: attempts")

    max_tarball_bytes: int = Field(
        2 * 1024**3, description="the largest upload (tarball or registered file) fetched"
    )
    max_tar_members: int = Field(64, description="the most members a tarball may have")
    max_manifest_bytes: int = Field(64 * 1024, description="the largest manifest.json read")

    @property
    def storage_budget(self) -> StorageBudget:
        return StorageBudget(
            connect_timeout_seconds=self.storage_connect_timeout_seconds,
            read_timeout_seconds=self.storage_read_timeout_seconds,
            deadline_seconds=self.storage_deadline_seconds,
            max_attempts=self.storage_max_attempts,
        )

    @property
    def api_storage_budget(self) -> StorageBudget:
        return StorageBudget(
            connect_timeout_seconds=self.api_storage_connect_timeout_seconds,
            read_timeout_seconds=self.api_storage_read_timeout_seconds,
            deadline_seconds=self.api_storage_deadline_seconds,
            max_attempts=self.api_storage_max_attempts,
        )

    @property
    def allowed_shell_ids(self) -> list[str]:
        return kit_shells(self.kit_flows)

    @property
    def tool_versions(self) -> list[str]:
        """The Vivado versions the factory builds with, one build queue each; the first takes
        the runs started from the UI."""
        return list(dict.fromkeys(flow.tool_version for flow in self.kit_flows))

    @property
    def catalog_database_url(self) -> str:
        return self.catalog_url or f"sqlite:///{self.home / 'catalog.db'}"

    @property
    def tenants_path(self) -> Path:
        return self.tenants_file or self.home / "tenants.json"

    @property
    def credentials_key_path(self) -> Path:
        return self.credentials_key_file or self.home / "credentials.key"

    @property
    def builds_dir(self) -> Path:
        return self.home / "builds"

    @property
    def shells_dir(self) -> Path:
        """Static shell checkpoints, one `<shell_id>.dcp` each."""
        return self.home / "shells"


def _shown_default(field: FieldInfo) -> str:
    """A field's default as the reference shows it: the same on every machine."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and "shown_default" in extra:
        return str(extra["shown_default"])
    value = field.get_default(call_default_factory=True)
    if isinstance(value, SecretStr):
        return "built in (set your own)"
    if value is None:
        return "none"
    if isinstance(value, Path):
        return str(value).replace(str(Path.home()), "~", 1)
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        return json.dumps([item.model_dump() for item in value])
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def variable_of(name: str) -> str:
    return f"{_PREFIX}{name}".upper()


def settings_reference() -> str:
    """Every setting as a Markdown table: variable, default, what it is (docs/settings.md)."""
    rows = ["| variable | default | |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = _shown_default(field).replace("|", "\\|")
        # Markdown would take `<home>` for a tag and `|` for a column.
        text = (field.description or "").replace("<", "&lt;").replace("|", "\\|")
        rows.append(f"| `{variable_of(name)}` | `{default}` | {text} |")
    return "\n".join(rows) + "\n"


class EffectiveSetting(BaseModel):
    variable: str
    value: str  # secrets masked
    source: str  # "environment", "file" (AFS_SETTINGS_FILE) or "default"


def effective_settings(
    settings: Settings, environ: Mapping[str, str] = os.environ
) -> list[EffectiveSetting]:
    """What this process runs with, each setting with where it came from, secrets masked."""
    path = settings_file(environ)
    in_file = {key.upper() for key in dotenv_values(path)} if path else set()
    effective = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            shown = "**********"
        elif isinstance(value, list | dict):
            shown = json.dumps(
                [item.model_dump() if isinstance(item, BaseModel) else item for item in value]
                if isinstance(value, list)
                else value
            )
        else:
            shown = "none" if value is None else str(value)
        variable = variable_of(name)
        source = (
            "environment" if variable in environ else "file" if variable in in_file else "default"
        )
        effective.append(EffectiveSetting(variable=variable, value=shown, source=source))
    return effective


# A file of AFS_NAME=value lines (the form systemd's EnvironmentFile= reads too). The environment
# wins over the file, and the file over the defaults.
SETTINGS_FILE_VARIABLE = "AFS_SETTINGS_FILE"


class SettingsError(ConfigurationError):
    """The settings cannot be used; each problem names the variable (and the file) and the rule."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def settings_file(environ: Mapping[str, str] = os.environ) -> Path | None:
    named = environ.get(SETTINGS_FILE_VARIABLE)
    if not named:
        return None
    path = Path(named)
    if not path.is_file():
        raise SettingsError([f"{SETTINGS_FILE_VARIABLE}={named}: no such file"])
    return path


def load_settings() -> Settings:
    """The settings of this process: its environment, then AFS_SETTINGS_FILE, then the defaults.
    Lines of the file that are not AFS_ settings are left to their own readers (PREFECT_...)."""
    path = settings_file()
    in_file = {key.upper() for key in dotenv_values(path)} if path else set()
    known = {variable_of(name) for name in Settings.model_fields}
    unknown = sorted(key for key in in_file - known if key.startswith(_PREFIX))
    if unknown:
        raise SettingsError(
            [
                f"{variable} in {path}: not a setting (afs config --reference)"
                for variable in unknown
            ]
        )
    try:
        return Settings(_env_file=path)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            variable = variable_of(str(error["loc"][0]))
            where = f" in {path}" if variable in in_file and variable not in os.environ else ""
            problems.append(f"{variable}{where}: {error['msg']}")
        raise SettingsError(problems) from None


def production_refusals(settings: Settings) -> list[str]:
    """Why a server (`afs serve`, `afs worker`, `afs deploy`) must not start with these settings:
    a secret left at its built-in value, which anyone can read in this source, or a settings file
    that others may read. The embedded stack sets keys of its own."""
    refusals = [
        f"{variable_of(name)} is the built-in value; set a secret of your own"
        for name, field in Settings.model_fields.items()
        if isinstance(field.default, SecretStr) and getattr(settings, name) == field.default
    ]
    path = settings_file()
    if path is not None and path.stat().st_mode & 0o077:
        refusals.append(f"{SETTINGS_FILE_VARIABLE}={path} may be read by other users; chmod 600 it")
    return refusals


def server_settings() -> Settings:
    """The settings a server starts with, refused (SettingsError) if production_refusals finds
    anything."""
    settings = get_settings()
    if refusals := production_refusals(settings):
        raise SettingsError(refusals)
    return settings


@lru_cache
def get_settings() -> Settings:
    return load_settings()
