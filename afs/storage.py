"""OBS/S3 through boto3: streaming downloads, multipart uploads, and one table of what errors mean.

Every client comes from `s3_client`, which bounds each call by a budget (timeouts, attempts and a
deadline for retries), so that a store that accepts connections but never answers fails a call
within the budget (StorageUnavailable), not after every attempt's timeouts.

Objects are never held in memory: downloads stream in chunks to a temporary file beside the
destination and are renamed into place only when complete. Every storage failure becomes one of
three exceptions (`ObjectInaccessible`, `ObjectTooLarge`, `StorageUnavailable`) whose message names
the bucket and key and the store's error code, never a credential.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import ProgressCallbackInvoker, TransferConfig, create_transfer_manager
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    ResponseStreamingError,
)
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.retries.standard import (
    ExponentialBackoff,
    RetryEventAdapter,
    RetryPolicy,
    StandardRetryConditions,
)
from pydantic import BaseModel

# Re-exported: callers catch these as `storage.StorageError` and so on.
from afs.errors import ObjectInaccessible as ObjectInaccessible
from afs.errors import ObjectTooLarge as ObjectTooLarge
from afs.errors import StorageError as StorageError
from afs.errors import StorageUnavailable as StorageUnavailable
from afs.files import atomic_write
from afs.models import StorageCredentials
from afs.settings import DEFAULT_STORAGE_BUDGET, StorageBudget

MULTIPART_BYTES = 8 * 1024 * 1024

# Codes the store sends for a request that may well succeed later, whatever its HTTP status.
_TRANSIENT_CODES = frozenset(
    {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "Throttling"}
)
# Failures below HTTP: the store was not reached or the answer broke off (after botocore's retries).
_TRANSPORT_ERRORS = (
    BotocoreConnectionError,  # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ...
    HTTPClientError,
    ResponseStreamingError,
    IncompleteReadError,
)


def _where(bucket: str, key: str | None) -> str:
    return f"bucket {bucket!r}" if key is None else f"object {key!r} in bucket {bucket!r}"


def map_error(exc: Exception, *, bucket: str, key: str | None) -> StorageError:
    """The StorageError a ClientError or a transport failure (`_TRANSPORT_ERRORS`) means.

    The one place that decides: 4xx answers are the request's fault (ObjectInaccessible); 5xx
    answers, throttling and transport failures are the store's (StorageUnavailable).
    """
    where = _where(bucket, key)
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        # The store's own message may echo request details; the code and status are enough.
        detail = f"{code} (HTTP {status})" if status else code
        if code in _TRANSIENT_CODES or (isinstance(status, int) and status >= 500):
            return StorageUnavailable(
                f"storage unavailable for {where}: {detail}", bucket=bucket, key=key
            )
        return ObjectInaccessible(
            f"{where} is not accessible: {detail}", bucket=bucket, key=key, reason=detail
        )
    return StorageUnavailable(
        f"storage unavailable for {where}: {type(exc).__name__}: {exc}", bucket=bucket, key=key
    )


@contextlib.contextmanager
def _mapped(bucket: str, key: str | None) -> Iterator[None]:
    try:
        yield
    except (ClientError, *_TRANSPORT_ERRORS) as exc:
        raise map_error(exc, bucket=bucket, key=key) from exc


class _DeadlineRetries:
    """botocore's standard retry rules, but no retry starts that could end past the deadline.

    The deadline counts from the start of each API call, and it only ever refuses a retry: an
    attempt under way is bounded by the timeouts alone. So a silent store ends a call within
    max(deadline, connect + read timeouts), while a 2 GiB download that keeps moving is never cut
    (its body streams after the call returned, each read bounded by the read timeout), nor is a
    slow part upload. botocore's retry quota, which rations retries per client, is not used: the
    deadline bounds retrying instead.
    """

    _STARTED = "afs_started"  # our key in botocore's per-call context

    def __init__(self, budget: StorageBudget) -> None:
        self._budget = budget
        self._attempt_seconds = budget.connect_timeout_seconds + budget.read_timeout_seconds
        self._adapter = RetryEventAdapter()
        self._policy = RetryPolicy(
            retry_checker=StandardRetryConditions(max_attempts=budget.max_attempts),
            retry_backoff=ExponentialBackoff(),
        )

    def start(self, context: dict[str, Any], **_: Any) -> None:
        """On `before-call`: the call's clock starts."""
        context[self._STARTED] = time.monotonic()

    def needs_retry(self, request_dict: dict[str, Any], **kwargs: Any) -> float | None:
        """On `needs-retry`: the delay before the next attempt, or None for no retry."""
        retry = self._adapter.create_retry_context(request_dict=request_dict, **kwargs)
        if not self._policy.should_retry(retry):
            return None
        delay: float = self._policy.compute_retry_delay(retry)
        elapsed = time.monotonic() - request_dict["context"][self._STARTED]
        if elapsed + delay + self._attempt_seconds > self._budget.deadline_seconds:
            return None
        return delay


def s3_client(
    credentials: StorageCredentials,
    *,
    default_endpoint: str | None = None,
    budget: StorageBudget = DEFAULT_STORAGE_BUDGET,
) -> Any:  # a boto3 S3 client (boto3 is untyped)
    """A boto3 S3 client that works against OBS and moto alike (s3v4 signing, path-style URLs).

    `default_endpoint` serves credentials that name none. `budget` bounds each call: connect and
    read timeouts, attempts, and a deadline for retries (see `_DeadlineRetries`).
    """
    config = Config(
        region_name=credentials.region,
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        # botocore's own retry handler makes one attempt; _DeadlineRetries decides the others
        # (botocore's handler cannot be told to stop at a deadline).
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=budget.connect_timeout_seconds,
        read_timeout=budget.read_timeout_seconds,
    )
    client = boto3.client(
        "s3",
        endpoint_url=credentials.endpoint or default_endpoint,
        aws_access_key_id=credentials.access_key.get_secret_value(),
        aws_secret_access_key=credentials.secret_key.get_secret_value(),
        config=config,
    )
    retries = _DeadlineRetries(budget)
    client.meta.events.register("before-call.s3", retries.start)
    client.meta.events.register("needs-retry.s3", retries.needs_retry)
    return client


class Download(BaseModel):
    size: int
    sha256: str


def _too_large(bucket: str, key: str, size: str, max_bytes: int) -> ObjectTooLarge:
    return ObjectTooLarge(
        f"{_where(bucket, key)} is {size} bytes, more than the {max_bytes} allowed",
        bucket=bucket,
        key=key,
    )


def download_object(
    client: Any,
    bucket: str,
    key: str,
    destination: Path,
    *,
    max_bytes: int,
    chunk_bytes: int = 1 << 20,
) -> Download:
    """Stream an object to `destination`, hashing it on the way; all or nothing on disk."""
    with _mapped(bucket, key):
        response = client.get_object(Bucket=bucket, Key=key)
    body = response["Body"]
    with contextlib.closing(body):
        length = response.get("ContentLength")
        if length is not None and length > max_bytes:
            raise _too_large(bucket, key, str(length), max_bytes)
        digest = hashlib.sha256()
        size = 0
        with atomic_write(destination) as out, _mapped(bucket, key):
            for chunk in body.iter_chunks(chunk_bytes):
                size += len(chunk)
                # ContentLength may be absent or wrong; the running count is what binds.
                if size > max_bytes:
                    raise _too_large(bucket, key, f"at least {size}", max_bytes)
                digest.update(chunk)
                out.write(chunk)
    return Download(size=size, sha256=digest.hexdigest())


def head_object(client: Any, bucket: str, key: str) -> int:
    """The object's size in bytes."""
    with _mapped(bucket, key):
        return int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])


def read_range(client: Any, bucket: str, key: str, offset: int, length: int) -> bytes:
    """`length` bytes of the object from `offset` (fewer only at its end)."""
    if offset < 0 or length <= 0:
        # An empty or reversed Range is ignored by S3, which then sends the whole object.
        raise ValueError(f"no byte range of length {length} at offset {offset}")
    with _mapped(bucket, key):
        response = client.get_object(
            Bucket=bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
        )
        with contextlib.closing(response["Body"]) as body:
            data: bytes = body.read()
    return data


def delete_object(client: Any, bucket: str, key: str) -> None:
    """Remove the object; removing one that is already gone succeeds (S3 semantics)."""
    with _mapped(bucket, key):
        client.delete_object(Bucket=bucket, Key=key)


def upload_file(
    client: Any,
    path: Path,
    bucket: str,
    key: str,
    *,
    content_type: str = "application/x-tar",
    progress: Callable[[int], None] | None = None,
) -> None:
    """Upload a local file, in 8 MiB parts once it is bigger than 8 MiB.

    `progress` is called with each count of bytes sent, from the transfer's worker threads.
    """
    config = TransferConfig(
        multipart_threshold=MULTIPART_BYTES, multipart_chunksize=MULTIPART_BYTES
    )
    subscribers = [ProgressCallbackInvoker(progress)] if progress else None
    # s3transfer's manager raises the underlying ClientError; boto3's upload_file would wrap it
    # in S3UploadFailedError and lose the error code.
    with _mapped(bucket, key), create_transfer_manager(client, config) as manager:
        extra_args = {"ContentType": content_type}
        manager.upload(str(path), bucket, key, extra_args, subscribers).result()


def bucket_exists(client: Any, bucket: str) -> bool:
    """Whether `bucket` exists (and these credentials may see it); changes nothing."""
    with _mapped(bucket, None):
        try:
            client.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                raise
            return False
    return True


def ensure_bucket(client: Any, bucket: str) -> None:
    """Create `bucket` in the client's region unless it exists already (idempotent)."""
    if bucket_exists(client, bucket):
        return
    with _mapped(bucket, None):
        region = client.meta.region_name
        options: dict[str, Any] = {}
        if region and region != "us-east-1":  # S3 rejects an explicit us-east-1 constraint
            options["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            client.create_bucket(Bucket=bucket, **options)
        except ClientError as exc:
            # Someone created it between our head and create: that is what we wanted.
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
