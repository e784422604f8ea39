"""Failure causes of an image, error codes of the HTTP API (one table each), and the error tree.

An image in `error` carries `message = "CODE: human text"`. The code says what went wrong in terms a
tenant can act on; the text names the file, field or value involved (never a secret).

Every error the factory raises on purpose descends from AfsError (the model is httpx's
`_exceptions.py`). The classes shared by several packages are defined here; the others in the
module that raises them:

    AfsError
    ├── ImageBuildError               a build step failed; `CODE: text` for the tenant
    ├── StorageError                  the object store (message names bucket and key, no secret)
    │   ├── ObjectInaccessible        no such bucket or key, access denied, another 4xx
    │   ├── ObjectTooLarge            bigger than the caller allows
    │   └── StorageUnavailable        5xx, throttled, timed out, unreachable (worth retrying)
    ├── ConfigurationError            a setting, a tenant or a host is not configured right
    │   ├── SettingsError             afs.settings: a setting cannot be used (names the variable)
    │   ├── CatalogOutOfDate          afs.catalog.migrate: the schema is at another revision
    │   ├── TenantNotConfigured       afs.tenants: no storage for the project
    │   ├── BucketNotOwned            afs.tenants: not one of the project's buckets
    │   ├── VivadoConfigError         afs.build.vivado.runner: no usable Vivado for a version
    │   ├── CredentialKeyError        afs.catalog.credentials: the key file is unusable
    │   ├── ClientConfigError         afs.client.config: the client's keys are missing or wrong
    │   └── BrowserMissing            afs.devstack.browser: no Chromium, or no font for it
    ├── DcpError                      afs.inputs.dcp: not a readable design checkpoint
    ├── BitstreamError                afs.inputs.bitstream: not a readable .bit or .xclbin
    ├── AeiError                      afs.build.aei: not a valid image file
    ├── PackError                     afs.inputs.archive: `afs pack` cannot pack the file
    │                                 (also a ValueError)
    ├── RunRefused                    afs.build.steps: a run's parameters name no image it may build
    ├── MisroutedBuild                afs.build.steps: this host has no Vivado for the image's
    │                                 tool version; the image goes back to the dispatcher
    ├── SupervisorError               afs.build.vivado.supervised: Vivado's supervisor reported
    │                                 no exit code
    ├── StartRefused                  afs.orchestration.dispatch: Prefect refused this image's run
    ├── NotDeleting                   afs.orchestration.deletion: the image is not being deleted
    ├── CatalogError                  afs.catalog.errors: what the catalog refuses
    │   ├── QuotaExceeded             the project has an image in creation
    │   ├── ImageNotFound             no such image in the project
    │   ├── ImageExists               the id is taken
    │   ├── IllegalTransition         the status table never allows the change
    │   ├── WrongStatus               the image's status does not allow the operation
    │   ├── ImageProtected            a protected image is not deleted
    │   ├── ClientTokenConflict       the token was used with another body
    │   ├── AssociationExists         the pair is associated already
    │   ├── AssociationLimit          the ECS image has all its slots taken
    │   └── AssociationNotFound       no such association
    ├── ApiProblem                    afs.api.problems: an error answer the API is about to give
    ├── BodyTooLarge                  afs.api.limits: a request body grew past the limit (413)
    ├── SignatureFormatError          afs.wire.signing: not one of the two Authorization forms
    │                                 (also a ValueError)
    └── client side (afs.client.library)
        ├── ApiError                  the API answered an error: its code and message
        │   └── FpgaImageNotFound     the image is not in the project
        ├── ApiUnreachable            the API could not be reached
        ├── WaitTimedOut              `wait` gave up before the image finished (also a TimeoutError)
        └── NoLogTarball              a registered image has no log tarball

The Vivado emulator is a program of its own; its errors stay inside it.
"""

from __future__ import annotations

from enum import Enum, StrEnum


class FailureCause(StrEnum):
    INACCESSIBLE_INPUT = "INACCESSIBLE_INPUT"
    INPUT_SIZE_ILLEGAL = "INPUT_SIZE_ILLEGAL"
    CORRUPT_ARCHIVE = "CORRUPT_ARCHIVE"
    MANIFEST_NOT_FOUND = "MANIFEST_NOT_FOUND"
    MANIFEST_PARSE_FAILED = "MANIFEST_PARSE_FAILED"
    DCP_NOT_FOUND = "DCP_NOT_FOUND"
    DCP_CORRUPT = "DCP_CORRUPT"
    DCP_INTEGRITY_UNVERIFIED = "DCP_INTEGRITY_UNVERIFIED"
    # Out of context, or another top than its shell's: not the kit's whole routed design.
    DCP_NOT_ROUTED_DESIGN = "DCP_NOT_ROUTED_DESIGN"
    # A Xilinx bitstream where the checkpoint should be (an xclbin compiled to a bitstream).
    DCP_IS_BITSTREAM = "DCP_IS_BITSTREAM"
    # A registered file: not a readable bitstream, no bitstream in it, or a full one.
    BITSTREAM_CORRUPT = "BITSTREAM_CORRUPT"
    BITSTREAM_NOT_FOUND = "BITSTREAM_NOT_FOUND"
    BITSTREAM_NOT_PARTIAL = "BITSTREAM_NOT_PARTIAL"
    PART_MISMATCH = "PART_MISMATCH"
    SHELL_VERSION_INVALID = "SHELL_VERSION_INVALID"
    TOOL_VERSION_INVALID = "TOOL_VERSION_INVALID"
    PCIID_SYNTAX_INVALID = "PCIID_SYNTAX_INVALID"
    PR_VERIFY_FAILED = "PR_VERIFY_FAILED"
    TIMING_VIOLATION = "TIMING_VIOLATION"
    BITSTREAM_GENERATE_ERROR = "BITSTREAM_GENERATE_ERROR"
    BUILD_TIMEOUT = "BUILD_TIMEOUT"
    WORKER_CRASHED = "WORKER_CRASHED"
    CANCELLED = "CANCELLED"
    LOG_UPLOAD_FAILED = "LOG_UPLOAD_FAILED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    # Storage answered 5xx or timed out: the input may be fine, the store was not.
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"


# The causes scheduled reprocessing builds again, with the most builds an image failing with each
# may have in all (None: the `max_build_attempts` setting). Only causes that say nothing about the
# tenant's input qualify; INTERNAL_ERROR may be the input tripping a factory bug, so it gets one
# more build at most.
RETRIED_CAUSES: dict[FailureCause, int | None] = {
    FailureCause.STORAGE_UNAVAILABLE: None,
    FailureCause.WORKER_CRASHED: None,
    FailureCause.INTERNAL_ERROR: 2,
}


class AfsError(Exception):
    """The root of every error the factory raises on purpose."""


class StorageError(AfsError):
    """A storage operation on `bucket`/`key` failed; the message says why, without secrets."""

    def __init__(
        self, message: str, *, bucket: str, key: str | None, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.bucket = bucket
        self.key = key
        self.reason = reason or message  # what the store answered, without naming the object


class ObjectInaccessible(StorageError):
    """The store refused: no such bucket or key, access denied, or another 4xx answer."""


class ObjectTooLarge(StorageError):
    """The object is bigger than the caller allows."""


class StorageUnavailable(StorageError):
    """The store answered 5xx, throttled, timed out or could not be reached (worth retrying)."""


class ConfigurationError(AfsError):
    """A setting, a tenant's storage or a build host is not configured right."""


class ImageBuildError(AfsError):
    """A build step failed for a reason the tenant is told as `CODE: text`."""

    def __init__(self, cause: FailureCause, text: str) -> None:
        super().__init__(f"{cause.value}: {text}")
        self.cause = cause
        self.text = text

    @property
    def message(self) -> str:
        return f"{self.cause.value}: {self.text}"


def internal_failure(exc: BaseException, flow_run_id: str) -> ImageBuildError:
    """What the tenant learns of an exception the factory did not expect: its type and the run,
    never its text, which may hold anything (a key, a path); the operators log the rest."""
    return ImageBuildError(
        FailureCause.INTERNAL_ERROR,
        f"{type(exc).__name__} in flow run {flow_run_id}; the factory's operators have the details",
    )


def cause_of(message: str | None) -> FailureCause | None:
    """The cause recorded at the front of an image's `CODE: text` message, if any."""
    if not message:
        return None
    code, separator, _ = message.partition(": ")
    if not separator:
        return None
    try:
        return FailureCause(code)
    except ValueError:
        return None


class ApiErrorCode(Enum):
    """Every error code the HTTP API answers with: (code, HTTP status, meaning).

    The generic codes are the cloud's own (ECS); `AFS.*` codes belong to this service. The README
    holds the same table, and a test keeps the two equal.
    """

    INVALID_PARAMETER = ("Ecs.0005", 400, "invalid parameter, malformed or unsupported body")
    NO_PERMISSION = ("Ecs.0003", 403, "the access key may not act on this project")
    PROJECT_MISMATCH = ("Ecs.0023", 400, "the project in the credential is not the URL's project")
    BAD_CREDENTIAL = ("Common.0013", 401, "missing, unknown, expired, wrong or replayed signature")
    INTERNAL_ERROR = ("Common.0001", 500, "a fault of the factory itself")
    QUOTA_EXCEEDED = ("AFS.0001", 409, "the project already has an image in creation")
    IMAGE_NOT_FOUND = ("AFS.0002", 404, "no such FPGA image in this project")
    IMAGE_PROTECTED = ("AFS.0003", 409, "the image is associated with an ECS image (protected)")
    IMAGE_STATUS_CONFLICT = ("AFS.0004", 409, "the image's status does not allow the operation")
    BUCKET_NOT_OWNED = (
        "AFS.0005",
        403,
        "the file's bucket is not one of the project's buckets",
    )
    DCP_NOT_FOUND = (
        "AFS.0006",
        400,
        "the DCP tarball or registered file cannot be read",
    )
    STORAGE_UNAVAILABLE = ("AFS.0007", 503, "the object store did not answer; try again")
    CLIENT_TOKEN_CONFLICT = ("AFS.0008", 409, "X-Client-Token was used with another body")
    ASSOCIATION_EXISTS = ("AFS.0009", 409, "the FPGA image is already associated with the image")
    ASSOCIATION_LIMIT = ("AFS.0010", 409, "the ECS image has 10 FPGA images associated already")
    ASSOCIATION_NOT_FOUND = ("AFS.0011", 404, "the FPGA image is not associated with the image")
    BODY_TOO_LARGE = ("AFS.0012", 413, "the request body is larger than the API accepts")
    NO_SUCH_API = ("AFS.0013", 404, "no API at this path")
    METHOD_NOT_ALLOWED = ("AFS.0014", 405, "the path does not accept this HTTP method")

    def __init__(self, code: str, status: int, meaning: str) -> None:
        self.code = code
        self.status = status
        self.meaning = meaning
