"""Failure causes of an image and error codes of the HTTP API: one table each.

An image in `error` carries `message = "CODE: human text"`. The code says what went wrong in terms a
tenant can act on; the text names the file, field or value involved (never a secret).
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


# Causes that say nothing about the tenant's input: scheduled reprocessing may try these again.
TRANSIENT_CAUSES: frozenset[FailureCause] = frozenset(
    {
        FailureCause.STORAGE_UNAVAILABLE,
        FailureCause.WORKER_CRASHED,
        FailureCause.INTERNAL_ERROR,
    }
)


class ImageBuildError(Exception):
    """A build step failed for a reason the tenant is told as `CODE: text`."""

    def __init__(self, cause: FailureCause, text: str) -> None:
        super().__init__(f"{cause.value}: {text}")
        self.cause = cause
        self.text = text

    @property
    def message(self) -> str:
        return f"{self.cause.value}: {self.text}"


def cause_of(message: str | None) -> FailureCause | None:
    """The cause recorded at the front of an image's `CODE: text` message, if any."""
    if not message:
        return None
    code, _, _ = message.partition(":")
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
    BUCKET_NOT_OWNED = ("AFS.0005", 403, "the DCP's bucket is not one of the project's buckets")
    DCP_NOT_FOUND = ("AFS.0006", 400, "the DCP object does not exist or cannot be read")
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
