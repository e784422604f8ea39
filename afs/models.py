"""Pydantic models at the factory's boundaries: the create request, the DCP manifest, the image.

Every rule of the create-FPGA-image spec lives here, once. Messages name the rule broken; pydantic
adds the field's location, so a caller always learns which field and which rule.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
)

from afs.errors import FailureCause
from afs.status import ImageStatus

# The metadata key under which an active image records where its image file is (`bucket:key`).
IMAGE_FILE_KEY = "image_file"
IMAGE_ID_PATTERN = r"^[0-9a-f]{32}$"
PROJECT_ID_PATTERN = r"^[0-9a-f]{32}$"

_BUCKET_CHARS = re.compile(r"[a-z0-9.-]+")
_OBJECT_CHARS = re.compile(r"[A-Za-z0-9_./-]+")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# CJK unified ideographs U+4E00-U+9FA5, full-width 。and ，, ASCII letters, digits, - _ . , space.
_DESCRIPTION = re.compile(r"[\u4e00-\u9fa5\u3002\uff0cA-Za-z0-9_.,\- ]{0,255}")


def _absent_if_empty(value: Any) -> Any:
    """Real clients send null or "" for an optional field they do not set: both mean absent."""
    return None if value == "" else value


def _check_segments(path: str, what: str) -> None:
    for segment in path.split("/"):
        if not segment:
            raise ValueError(f"{what} must not contain an empty directory level ('//')")
        if segment.startswith(".") or segment.endswith("."):
            raise ValueError(f"{what} level {segment!r} must not start or end with '.'")


def check_bucket_name(bucket: str) -> str:
    if not 3 <= len(bucket) <= 63:
        raise ValueError(f"bucket name must be 3-63 characters, got {len(bucket)}")
    if not _BUCKET_CHARS.fullmatch(bucket):
        raise ValueError("bucket name may contain only lowercase letters, digits, '.' and '-'")
    if not (bucket[0].isalnum() and bucket[-1].isalnum()):
        raise ValueError("bucket name must start and end with a lowercase letter or digit")
    for forbidden in ("..", ".-", "-."):
        if forbidden in bucket:
            raise ValueError(f"bucket name must not contain {forbidden!r}")
    try:
        ipaddress.ip_address(bucket)
    except ValueError:
        return bucket
    raise ValueError("bucket name must not be an IP address")


def check_object_key(key: str, suffixes: tuple[str, ...] = (".tar",), max_length: int = 128) -> str:
    if not 4 <= len(key) <= max_length:
        raise ValueError(f"file name must be 4-{max_length} characters, got {len(key)}")
    if not _OBJECT_CHARS.fullmatch(key):
        raise ValueError("file name may contain only letters, digits, '-', '_', '/' and '.'")
    if key.startswith("/"):
        raise ValueError("file name must not start with '/'")
    if not key.endswith(suffixes):
        raise ValueError(f"file name must end with {' or '.join(map(repr, suffixes))}")
    directory, _, _ = key.rpartition("/")
    if directory:
        _check_segments(directory, "directory")
    return key


def check_dcp_location(value: str) -> str:
    bucket, separator, key = value.partition(":")
    if not separator:
        raise ValueError("must have the form 'bucket:file name', e.g. 'obs-fpga:vu9p/dcp.tar'")
    check_bucket_name(bucket)
    check_object_key(key)
    return value


# The legacy register's file: a finished bitstream (fisclient: 4-64 characters, .bin or .xclbin).
REGISTERED_FILE_SUFFIXES = (".bin", ".xclbin")


def check_register_location(value: str) -> str:
    bucket, separator, key = value.partition(":")
    if not separator:
        raise ValueError("must have the form 'bucket:file name', e.g. 'obs-fpga:fpga.bin'")
    check_bucket_name(bucket)
    check_object_key(key, REGISTERED_FILE_SUFFIXES, max_length=64)
    return value


MAX_REGISTER_METADATA_CHARS = 1024


def check_register_metadata(value: dict[str, Any]) -> dict[str, Any]:
    # Counted as fisclient counts it: json.dumps with its default separators and ASCII escapes.
    length = len(json.dumps(value))
    if length > MAX_REGISTER_METADATA_CHARS:
        raise ValueError(
            f"must be at most {MAX_REGISTER_METADATA_CHARS} characters as JSON, got {length}"
        )
    return value


def check_log_directory(value: str) -> str:
    if len(value) > 64:
        raise ValueError(f"must be 0-64 characters, got {len(value)}")
    if not _OBJECT_CHARS.fullmatch(value):
        raise ValueError("may contain only letters, digits, '-', '_', '/' and '.'")
    if value.startswith("/") or value.endswith("/"):
        raise ValueError("must not start or end with '/'")
    _check_segments(value, "directory")
    return value


def check_name(value: str) -> str:
    if not 1 <= len(value) <= 64:
        raise ValueError(f"must be 1-64 characters, got {len(value)}")
    if not _NAME.fullmatch(value):
        bad = next(char for char in value if not _NAME.fullmatch(char))
        raise ValueError(
            f"may contain only letters, digits, '_' and '-', got {value!r} "
            f"({bad!r} at position {value.index(bad) + 1})"
        )
    return value


def check_description(value: str) -> str:
    if len(value) > 255:
        raise ValueError(f"must be 0-255 characters, got {len(value)}")
    if not _DESCRIPTION.fullmatch(value):
        bad = next(char for char in value if not _DESCRIPTION.fullmatch(char))
        raise ValueError(
            f"character {bad!r} is not allowed: only Chinese characters, '。', '，', letters, "
            "digits, '-', '_', '.', ',' and space"
        )
    return value


DcpLocation = Annotated[
    str,
    AfterValidator(check_dcp_location),
    Field(
        description="Where the DCP tarball is: 'bucket:file name', e.g. 'obs-fpga:vu9p/dcp.tar'. "
        "Bucket: 3-63 of a-z 0-9 . -; file: 4-128 of A-Z a-z 0-9 _ . / -, ending in .tar.",
        examples=["obs-fpga:vu9p/fpga-vu9p-dcp.tar"],
        # For the Prefect form; the validator above is the rule and names what is wrong.
        json_schema_extra={
            "pattern": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]:(?!/)[A-Za-z0-9_./-]{0,124}\.tar$"
        },
    ),
]
LogDirectory = Annotated[
    str | None,
    BeforeValidator(_absent_if_empty),
    AfterValidator(lambda value: value if value is None else check_log_directory(value)),
    Field(
        None,
        description="Directory in the DCP's bucket for {image_id}_log.tar, e.g. 'vu9p/log'. "
        "Empty: the DCP's own directory. 0-64 of A-Z a-z 0-9 _ . / -.",
        examples=["vu9p/log"],
    ),
]
ImageName = Annotated[
    str,
    AfterValidator(check_name),
    Field(
        description="Image name: 1-64 of A-Z a-z 0-9 _ -.",
        examples=["fpga-image-test"],
        json_schema_extra={"pattern": r"^[A-Za-z0-9_-]{1,64}$"},
    ),
]
Description = Annotated[
    str | None,
    BeforeValidator(_absent_if_empty),
    AfterValidator(lambda value: value if value is None else check_description(value)),
    Field(
        None,
        description="0-255 of Chinese characters, 。，, letters, digits, - _ . , and space.",
        examples=["fpga description"],
    ),
]


RegisterLocation = Annotated[
    str,
    AfterValidator(check_register_location),
    Field(
        description="Where the finished bitstream is: 'bucket:file name', e.g. "
        "'obs-fpga:fpga.bin'. File: 4-64 of A-Z a-z 0-9 _ . / -, ending in .bin or .xclbin.",
        examples=["obs-fpga:fpga.bin"],
    ),
]
RegisterMetadata = Annotated[
    dict[str, Any],
    AfterValidator(check_register_metadata),
    Field(
        description="A JSON object of at most 1024 characters, kept with the image.",
        examples=[{"shell_type": "OCL", "shell_version": "1.0"}],
    ),
]


def log_tarball_key(directory: str, image_id: str) -> str:
    """Object key of `{image_id}_log.tar` in `directory` of the DCP's bucket ('' is the root)."""
    return f"{directory}/{image_id}_log.tar" if directory else f"{image_id}_log.tar"


class FpgaImageRequest(BaseModel):
    """What a tenant asks for: the `fpga_image` object of the create request."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    dcp_location: DcpLocation
    log_directory: LogDirectory = None
    name: ImageName
    description: Description = None

    @property
    def dcp_bucket(self) -> str:
        return self.dcp_location.partition(":")[0]

    @property
    def dcp_key(self) -> str:
        return self.dcp_location.partition(":")[2]

    @property
    def log_prefix(self) -> str:
        """Object key of the log tarball's directory prefix, without the file name."""
        directory = self.log_directory
        if directory is None:
            directory = self.dcp_key.rpartition("/")[0]
        return directory

    def log_tarball_key(self, image_id: str) -> str:
        return log_tarball_key(self.log_prefix, image_id)


class RegisterFpgaImageRequest(BaseModel):
    """The `fpga_image` object of the legacy register, `POST /v1/{project_id}/cloudservers/
    fpga_image`: a finished bitstream (`.bin`, or an `.xclbin` holding one), saved, not built."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    location: RegisterLocation
    name: ImageName
    metadata: RegisterMetadata
    description: Description = None

    @property
    def bucket(self) -> str:
        return self.location.partition(":")[0]

    @property
    def key(self) -> str:
        return self.location.partition(":")[2]


class RegisterFpgaImageBody(BaseModel):
    """The whole body of `POST /v1/{project_id}/cloudservers/fpga_image`."""

    model_config = ConfigDict(extra="forbid")

    fpga_image: RegisterFpgaImageRequest


# Where a registered image keeps the metadata its tenant gave, apart from what the factory adds.
USER_METADATA_KEY = "user_metadata"


class CreateFpgaImageBody(BaseModel):
    """The whole body of `POST /v2/{project_id}/cloudservers/fpga_image`."""

    model_config = ConfigDict(extra="forbid")

    fpga_image: FpgaImageRequest


_PCI_ID = r"^0x[0-9A-Fa-f]{4}$"
_SHELL_ID = r"^0x[0-9A-Fa-f]{8}$"

FlowType = Literal["vivado", "sdaccel"]


class KitFlow(BaseModel):
    """One pairing of the FP1 kit: a flow, the shell it targets and the tool version it uses.

    The DPDK/Vivado flow uploads a routed checkpoint, which Vivado turns into a bitstream; the
    SDAccel/OpenCL flow uploads a partial bitstream split from its `.xclbin`, packaged as it is.
    """

    model_config = ConfigDict(frozen=True)

    flow_type: FlowType
    shell_id: Annotated[str, Field(pattern=_SHELL_ID)]
    tool_version: str


def kit_shells(kit_flows: Iterable[KitFlow]) -> list[str]:
    """The shells of the pairings, each once, in their order."""
    return list(dict.fromkeys(flow.shell_id for flow in kit_flows))


# The kit's own pairings (fp1/hardware/vivado_design and sdaccel_design).
FP1_KIT_FLOWS = (
    KitFlow(flow_type="vivado", shell_id="0x01010029", tool_version="2017.2"),
    KitFlow(flow_type="sdaccel", shell_id="0x01210101", tool_version="2017.4.op"),
)


class Manifest(BaseModel):
    """`manifest.json` of the FP1 developer-kit tarball: a flat JSON object of strings."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    version: str
    fpga_board: str
    fpga_vendor: str
    fpga_chip: str
    bitstream_format: str
    flow_type: FlowType
    shell_id: Annotated[str, Field(pattern=_SHELL_ID)]
    pci_vendor_id: Annotated[str, Field(pattern=_PCI_ID)]
    pci_device_id: Annotated[str, Field(pattern=_PCI_ID)]
    pci_subsystem_id: Annotated[str, Field(pattern=_PCI_ID)]
    pci_subsystem_vendor_id: Annotated[str, Field(pattern=_PCI_ID)]
    hdk_version: str
    tool_version: str
    create_time: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")]
    dcp_sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]


# The fields the kit's create_sdaccel_metadata.py adds for the SDAccel flow, with their rules:
# the xclbin's featureRomTime (seconds since the epoch), and its kernel clocks in whole MHz.
SDACCEL_FIELDS: dict[str, tuple[re.Pattern[str], str]] = {
    "xclbin_timestamp": (re.compile(r"[0-9]{1,20}"), "a whole number of seconds since 1970"),
    "clock_freq": (re.compile(r"[1-9][0-9]{0,3}"), "a whole number of MHz, 1-9999"),
    "clock_freq2": (re.compile(r"[1-9][0-9]{0,3}"), "a whole number of MHz, 1-9999"),
}


def sdaccel_field_problem(manifest: Manifest) -> str | None:
    """What is wrong with an SDAccel manifest's own fields, naming the field and its rule."""
    if manifest.flow_type != "sdaccel":
        return None
    extra = manifest.model_extra or {}
    missing = [field for field in SDACCEL_FIELDS if field not in extra]
    if missing:
        return f"an sdaccel manifest needs the field(s) {', '.join(missing)}"
    for field, (pattern, rule) in SDACCEL_FIELDS.items():
        if not pattern.fullmatch(extra[field]):
            return f"field {field!r} {extra[field]!r} must be {rule}"
    return None


PCI_ID_FIELDS = ("pci_vendor_id", "pci_device_id", "pci_subsystem_id", "pci_subsystem_vendor_id")


class ImageRecord(BaseModel):
    """One image as the catalog holds it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    project_id: str
    name: str
    description: str | None
    dcp_location: str
    log_directory: str | None
    status: ImageStatus
    message: str | None
    failure_cause: FailureCause | None = None  # the CODE of an error's "CODE: text" message
    size_mb: int | None
    metadata: dict[str, Any]
    flow_run_id: str | None
    attempts: int
    requeues: int = 0
    protected: bool
    created_at: datetime
    updated_at: datetime

    @property
    def registered(self) -> bool:
        """Whether the image registers a finished bitstream (v1) rather than builds a tarball
        (v2): the two requests' locations end differently (.bin/.xclbin, .tar)."""
        return self.dcp_location.endswith(REGISTERED_FILE_SUFFIXES)

    @property
    def registration(self) -> RegisterFpgaImageRequest:
        return RegisterFpgaImageRequest.model_construct(
            location=self.dcp_location,
            name=self.name,
            metadata=self.metadata.get(USER_METADATA_KEY, {}),
            description=self.description,
        )

    @property
    def request(self) -> FpgaImageRequest:
        # Not validated again: the catalog only ever stores requests that passed validation.
        return FpgaImageRequest.model_construct(
            dcp_location=self.dcp_location,
            log_directory=self.log_directory,
            name=self.name,
            description=self.description,
        )


class StorageCredentials(BaseModel):
    """Access to an OBS/S3 store: a tenant's own, a project's in the factory, the image store's."""

    model_config = ConfigDict(frozen=True)  # hashable: the API caches one client per credentials

    endpoint: str | None = Field(None, description="OBS/S3 endpoint; None: the default one")
    region: str = "cn-north-1"
    access_key: SecretStr
    secret_key: SecretStr
