"""Failure causes of an image and error codes of the HTTP API: one table each.

An image in `error` carries `message = "CODE: human text"`. The code says what went wrong in terms a
tenant can act on; the text names the file, field or value involved (never a secret).
"""

from __future__ import annotations

from enum import StrEnum


class FailureCause(StrEnum):
    INACCESSIBLE_INPUT = "INACCESSIBLE_INPUT"
    INPUT_SIZE_ILLEGAL = "INPUT_SIZE_ILLEGAL"
    CORRUPT_ARCHIVE = "CORRUPT_ARCHIVE"
    MANIFEST_NOT_FOUND = "MANIFEST_NOT_FOUND"
    MANIFEST_PARSE_FAILED = "MANIFEST_PARSE_FAILED"
    DCP_NOT_FOUND = "DCP_NOT_FOUND"
    DCP_CORRUPT = "DCP_CORRUPT"
    DCP_INTEGRITY_UNVERIFIED = "DCP_INTEGRITY_UNVERIFIED"
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
