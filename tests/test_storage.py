"""Storage against a real S3 server over HTTP (moto's, in its own process), and the error table."""

from __future__ import annotations

import ast
import hashlib
import io
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
)
from botocore.response import StreamingBody
from pydantic import SecretStr

import afs
from afs.devstack.localstack import free_port
from afs.models import StorageCredentials
from afs.settings import Settings, StorageBudget
from afs.storage import (
    MULTIPART_BYTES,
    Download,
    ObjectInaccessible,
    ObjectTooLarge,
    StorageError,
    StorageUnavailable,
    delete_object,
    download_object,
    ensure_bucket,
    head_object,
    map_error,
    read_range,
    s3_client,
    upload_file,
)
from afs.tenants import (
    TenantStorage,
    check_dcp_readable,
    image_store_client,
    save_tenant,
    tenant_client,
)
from tests.faults.proxy import FaultMode, FaultProxy

ACCESS_KEY = "AKIDTESTSECRETACCESS"
SECRET_KEY = "very-secret-key-that-must-never-show"


def _bucket(client) -> str:
    name = f"afs-test-{uuid.uuid4().hex[:16]}"
    ensure_bucket(client, name)
    return name


def _put(client, bucket: str, key: str, data: bytes) -> None:
    client.put_object(Bucket=bucket, Key=key, Body=data)


@pytest.fixture
def client(s3_endpoint: str):
    """The factory's own client (s3v4, path style, standard retries) against the moto server."""
    return s3_client(
        StorageCredentials(
            endpoint=s3_endpoint,
            access_key=SecretStr(ACCESS_KEY),
            secret_key=SecretStr(SECRET_KEY),
        )
    )


def _credentials(endpoint: str) -> StorageCredentials:
    return StorageCredentials(
        endpoint=endpoint, access_key=SecretStr(ACCESS_KEY), secret_key=SecretStr(SECRET_KEY)
    )


def _no_leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# --- the client ----------------------------------------------------------------------------------


def test_the_client_is_configured_for_obs_and_moto(client) -> None:
    config = client.meta.config
    assert config.signature_version == "s3v4"
    assert config.s3["addressing_style"] == "path"
    assert client.meta.region_name == "cn-north-1"


# --- download_object -----------------------------------------------------------------------------


def test_download_writes_the_object_and_its_sha256(client, tmp_path: Path) -> None:
    bucket = _bucket(client)
    data = os.urandom(12_345)
    _put(client, bucket, "vu9p/dcp.tar", data)
    destination = tmp_path / "fetch" / "dcp.tar"

    result = download_object(client, bucket, "vu9p/dcp.tar", destination, max_bytes=len(data))

    assert result == Download(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    assert destination.read_bytes() == data
    assert _no_leftovers(destination.parent) == ["dcp.tar"]


def test_download_streams_a_multi_chunk_object(client, tmp_path: Path) -> None:
    bucket = _bucket(client)
    data = os.urandom(5 * 1024 * 1024 + 3)
    _put(client, bucket, "big.tar", data)
    destination = tmp_path / "big.tar"

    result = download_object(
        client, bucket, "big.tar", destination, max_bytes=10 * 1024 * 1024, chunk_bytes=64 * 1024
    )

    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(destination.read_bytes()).hexdigest() == result.sha256


def test_download_replaces_an_existing_file_only_when_complete(client, tmp_path: Path) -> None:
    bucket = _bucket(client)
    _put(client, bucket, "dcp.tar", b"new content")
    destination = tmp_path / "dcp.tar"
    destination.write_bytes(b"old content")

    with pytest.raises(ObjectTooLarge):
        download_object(client, bucket, "dcp.tar", destination, max_bytes=3)
    assert destination.read_bytes() == b"old content"

    download_object(client, bucket, "dcp.tar", destination, max_bytes=100)
    assert destination.read_bytes() == b"new content"


def test_a_missing_key_is_inaccessible_and_named(client, tmp_path: Path) -> None:
    bucket = _bucket(client)
    with pytest.raises(ObjectInaccessible) as caught:
        download_object(client, bucket, "no/such.tar", tmp_path / "x.tar", max_bytes=100)
    assert (caught.value.bucket, caught.value.key) == (bucket, "no/such.tar")
    assert bucket in str(caught.value)
    assert "no/such.tar" in str(caught.value)
    assert "NoSuchKey" in str(caught.value)
    assert _no_leftovers(tmp_path) == []


def test_a_missing_bucket_is_inaccessible_and_named(client, tmp_path: Path) -> None:
    bucket = f"afs-missing-{uuid.uuid4().hex[:12]}"
    with pytest.raises(ObjectInaccessible) as caught:
        download_object(client, bucket, "dcp.tar", tmp_path / "x.tar", max_bytes=100)
    assert bucket in str(caught.value)
    assert "dcp.tar" in str(caught.value)
    assert "NoSuchBucket" in str(caught.value)
    assert _no_leftovers(tmp_path) == []


def test_an_object_larger_than_allowed_leaves_no_file(client, tmp_path: Path) -> None:
    bucket = _bucket(client)
    _put(client, bucket, "dcp.tar", os.urandom(2048))
    with pytest.raises(ObjectTooLarge) as caught:
        download_object(client, bucket, "dcp.tar", tmp_path / "dcp.tar", max_bytes=2047)
    assert "2048" in str(caught.value)
    assert "2047" in str(caught.value)
    assert (caught.value.bucket, caught.value.key) == (bucket, "dcp.tar")
    assert _no_leftovers(tmp_path) == []


class _FakeClient:
    """Answers get_object with a body of our choosing: what a misbehaving store might send."""

    def __init__(self, data: bytes, *, content_length: int | None, claimed: int | None) -> None:
        self._body = StreamingBody(io.BytesIO(data), content_length)
        self._claimed = claimed

    def get_object(self, **_: object) -> dict:
        response: dict = {"Body": self._body}
        if self._claimed is not None:
            response["ContentLength"] = self._claimed
        return response


def test_the_running_count_binds_when_content_length_is_absent(tmp_path: Path) -> None:
    fake = _FakeClient(os.urandom(5000), content_length=None, claimed=None)
    with pytest.raises(ObjectTooLarge, match="at least"):
        download_object(fake, "b", "k.tar", tmp_path / "k.tar", max_bytes=4096, chunk_bytes=1024)
    assert _no_leftovers(tmp_path) == []


def test_a_body_cut_short_is_unavailable_and_leaves_no_file(tmp_path: Path) -> None:
    fake = _FakeClient(b"x" * 100, content_length=1000, claimed=1000)
    with pytest.raises(StorageUnavailable, match="IncompleteRead"):
        download_object(fake, "b", "k.tar", tmp_path / "k.tar", max_bytes=4096, chunk_bytes=64)
    assert _no_leftovers(tmp_path) == []


def test_an_unreachable_endpoint_is_unavailable_quickly(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = s3_client(_credentials(closed), budget=FAST)
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as caught:
        download_object(client, "bucket", "dcp.tar", tmp_path / "dcp.tar", max_bytes=100)
    assert time.monotonic() - started < 10
    assert "'bucket'" in str(caught.value)
    assert "'dcp.tar'" in str(caught.value)
    assert SECRET_KEY not in str(caught.value)
    assert ACCESS_KEY not in str(caught.value)
    with pytest.raises(StorageUnavailable):
        head_object(client, "bucket", "dcp.tar")
    assert _no_leftovers(tmp_path) == []


# --- head_object, ensure_bucket ------------------------------------------------------------------


def test_head_object_gives_the_size(client) -> None:
    bucket = _bucket(client)
    _put(client, bucket, "dcp.tar", b"x" * 777)
    assert head_object(client, bucket, "dcp.tar") == 777


@pytest.mark.parametrize("bucket_exists", [True, False])
def test_head_object_of_a_missing_object_is_inaccessible(client, bucket_exists: bool) -> None:
    bucket = _bucket(client) if bucket_exists else f"afs-missing-{uuid.uuid4().hex[:12]}"
    with pytest.raises(ObjectInaccessible) as caught:
        head_object(client, bucket, "none.tar")
    assert (caught.value.bucket, caught.value.key) == (bucket, "none.tar")
    assert "404" in str(caught.value)


def test_ensure_bucket_creates_once_and_is_idempotent(client) -> None:
    bucket = f"afs-test-{uuid.uuid4().hex[:16]}"
    ensure_bucket(client, bucket)
    ensure_bucket(client, bucket)
    names = [entry["Name"] for entry in client.list_buckets()["Buckets"]]
    assert names.count(bucket) == 1


# --- upload_file ---------------------------------------------------------------------------------


def test_a_multipart_upload_round_trips(client, tmp_path: Path) -> None:
    bucket = _bucket(client)
    data = os.urandom(8 * 1024 * 1024 + 12_345)  # just over the threshold: two parts
    source = tmp_path / "image.aei"
    source.write_bytes(data)

    upload_file(client, source, bucket, "images/image.aei", content_type="application/octet-stream")

    head = client.head_object(Bucket=bucket, Key="images/image.aei")
    assert head["ContentLength"] == len(data)
    assert head["ContentType"] == "application/octet-stream"
    assert head["ETag"].strip('"').endswith("-2")  # S3's ETag of a two-part upload
    result = download_object(
        client, bucket, "images/image.aei", tmp_path / "back.aei", max_bytes=len(data)
    )
    assert result.sha256 == hashlib.sha256(data).hexdigest()


def test_a_small_upload_is_a_single_put_with_the_tar_content_type(client, tmp_path: Path) -> None:
    bucket = _bucket(client)
    source = tmp_path / "log.tar"
    source.write_bytes(b"log")
    upload_file(client, source, bucket, "logs/x_log.tar")
    head = client.head_object(Bucket=bucket, Key="logs/x_log.tar")
    assert head["ContentType"] == "application/x-tar"
    assert "-" not in head["ETag"]


def test_an_upload_to_a_missing_bucket_is_inaccessible(client, tmp_path: Path) -> None:
    source = tmp_path / "log.tar"
    source.write_bytes(b"log")
    bucket = f"afs-missing-{uuid.uuid4().hex[:12]}"
    with pytest.raises(ObjectInaccessible) as caught:
        upload_file(client, source, bucket, "logs/x_log.tar")
    assert "NoSuchBucket" in str(caught.value)
    assert (caught.value.bucket, caught.value.key) == (bucket, "logs/x_log.tar")


# --- the error table -----------------------------------------------------------------------------


def _client_error(code: str, status: int) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": f"AWSAccessKeyId {ACCESS_KEY} said no"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "GetObject")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("NoSuchKey", 404, ObjectInaccessible),
        ("NoSuchBucket", 404, ObjectInaccessible),
        ("404", 404, ObjectInaccessible),
        ("403", 403, ObjectInaccessible),
        ("AccessDenied", 403, ObjectInaccessible),
        ("InvalidAccessKeyId", 403, ObjectInaccessible),
        ("SignatureDoesNotMatch", 403, ObjectInaccessible),
        ("InternalError", 500, StorageUnavailable),
        ("ServiceUnavailable", 503, StorageUnavailable),
        ("SlowDown", 503, StorageUnavailable),
        ("502", 502, StorageUnavailable),
        ("RequestTimeout", 400, StorageUnavailable),
    ],
)
def test_client_errors_map_by_code_and_status(code: str, status: int, expected: type) -> None:
    error = map_error(_client_error(code, status), bucket="obs-fpga", key="vu9p/dcp.tar")
    assert type(error) is expected
    assert isinstance(error, StorageError)
    assert (error.bucket, error.key) == ("obs-fpga", "vu9p/dcp.tar")
    assert "'obs-fpga'" in str(error)
    assert "'vu9p/dcp.tar'" in str(error)
    assert code in str(error)
    assert ACCESS_KEY not in str(error)  # the store's message is not repeated


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="https://obs.cn-north-1.example.com"),
        ConnectTimeoutError(endpoint_url="https://obs.cn-north-1.example.com"),
        ReadTimeoutError(endpoint_url="https://obs.cn-north-1.example.com"),
        IncompleteReadError(actual_bytes=10, expected_bytes=20),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_transport_errors_are_unavailable(exc: Exception) -> None:
    error = map_error(exc, bucket="obs-fpga", key=None)
    assert type(error) is StorageUnavailable
    assert "bucket 'obs-fpga'" in str(error)
    assert type(exc).__name__ in str(error)


# --- the budget ----------------------------------------------------------------------------------


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    """A fault proxy in front of moto; tests switch its mode."""
    with FaultProxy(s3_endpoint) as proxy:
        yield proxy


# Short enough for tests; the deadline leaves room for a second stalled attempt, not a third.
FAST = StorageBudget(
    connect_timeout_seconds=0.5, read_timeout_seconds=1, deadline_seconds=3, max_attempts=6
)
# What a call may overrun its deadline by on a busy test machine.
SLACK_SECONDS = 1.5


def test_the_default_budget_ends_a_silent_call_within_a_minute() -> None:
    defaults = Settings()
    for budget in (defaults.storage_budget, defaults.api_storage_budget):
        attempt = budget.connect_timeout_seconds + budget.read_timeout_seconds
        # Attempts alone would not bound it; the deadline does: no attempt starts that could
        # not fail by then, except the first.
        assert budget.max_attempts * attempt > budget.deadline_seconds
        assert max(attempt, budget.deadline_seconds) <= 60
    # A create request waits for the API's check: it gives up sooner than a build step.
    assert defaults.api_storage_budget.deadline_seconds < defaults.storage_budget.deadline_seconds


def test_the_client_takes_its_timeouts_from_the_budget() -> None:
    client = s3_client(_credentials("http://127.0.0.1:9"), budget=FAST)
    assert client.meta.config.connect_timeout == FAST.connect_timeout_seconds
    assert client.meta.config.read_timeout == FAST.read_timeout_seconds


def test_the_factorys_clients_have_the_settings_budget(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, storage_connect_timeout_seconds=1.5, storage_read_timeout_seconds=7
    )
    tenant = TenantStorage(access_key="ak", secret_key="sk", buckets=("obs-fpga",))
    for client in (tenant_client(settings, tenant), image_store_client(settings)):
        assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (1.5, 7)


def test_the_apis_dcp_check_gives_up_within_its_own_budget(
    proxy: FaultProxy, tmp_path: Path
) -> None:
    settings = Settings(
        home=tmp_path,
        obs_endpoint=proxy.url,
        storage_read_timeout_seconds=30,  # not this one: the API has a budget of its own
        api_storage_connect_timeout_seconds=0.5,
        api_storage_read_timeout_seconds=0.5,
        api_storage_deadline_seconds=1.5,
    )
    project_id = uuid.uuid4().hex
    tenant = TenantStorage(access_key=ACCESS_KEY, secret_key=SECRET_KEY, buckets=("obs-fpga",))
    save_tenant(settings, project_id, tenant)
    proxy.mode = FaultMode.STALL

    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        check_dcp_readable(settings, project_id, "obs-fpga", "dcp.tar")
    assert time.monotonic() - started < 1.5 + SLACK_SECONDS
    assert proxy.requests[FaultMode.STALL] == 1  # a second attempt would end past the deadline


def test_only_afs_storage_imports_the_aws_sdk() -> None:
    """No other module can build a client, so the budget binds every storage call in afs."""
    package = Path(afs.__file__).parent
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            if any(name.split(".")[0] in ("boto3", "botocore", "s3transfer") for name in names):
                importers.add(str(path.relative_to(package)))
    assert importers == {"storage.py"}


# --- faults: a proxy in front of moto -----------------------------------------------------------


@pytest.fixture
def stocked_bucket(client) -> str:
    """A bucket holding `dcp.tar`, reached directly, not through the proxy."""
    bucket = _bucket(client)
    _put(client, bucket, "dcp.tar", b"d" * 1000)
    return bucket


def _download(client: Any, bucket: str, tmp_path: Path) -> object:
    return download_object(client, bucket, "dcp.tar", tmp_path / "dcp.tar", max_bytes=1 << 20)


def _upload(client: Any, bucket: str, tmp_path: Path) -> object:
    source = tmp_path / "log.tar"
    source.write_bytes(b"l" * 1000)
    return upload_file(client, source, bucket, "logs/log.tar")


def _upload_in_parts(client: Any, bucket: str, tmp_path: Path) -> object:
    source = tmp_path / "image.aei"
    source.write_bytes(b"a" * (MULTIPART_BYTES + 1))
    return upload_file(client, source, bucket, "images/image.aei")


def _head(client: Any, bucket: str, _: Path) -> object:
    return head_object(client, bucket, "dcp.tar")


def _delete(client: Any, bucket: str, _: Path) -> object:
    return delete_object(client, bucket, "never-there.tar")


def _ensure_bucket(client: Any, bucket: str, _: Path) -> object:
    return ensure_bucket(client, bucket)


OPERATIONS: dict[str, Callable[[Any, str, Path], object]] = {
    "download": _download,
    "upload": _upload,
    "upload-in-parts": _upload_in_parts,
    "head": _head,
    "delete": _delete,
    "ensure-bucket": _ensure_bucket,
}
FAULTS = [mode for mode in FaultMode if mode is not FaultMode.PASS]


@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
@pytest.mark.parametrize("fault", FAULTS, ids=lambda mode: mode.value)
def test_a_faulty_store_is_unavailable_within_the_budget_then_works_again(
    proxy: FaultProxy, stocked_bucket: str, tmp_path: Path, fault: FaultMode, operation: str
) -> None:
    run = OPERATIONS[operation]
    client = s3_client(_credentials(proxy.url), budget=FAST)
    proxy.mode = fault

    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as caught:
        run(client, stocked_bucket, tmp_path)
    elapsed = time.monotonic() - started

    assert elapsed < FAST.deadline_seconds + SLACK_SECONDS
    assert caught.value.bucket == stocked_bucket
    if fault is not FaultMode.STOPPED:
        assert proxy.requests[fault] >= 1
    proxy.mode = FaultMode.PASS
    run(client, stocked_bucket, tmp_path)  # the same client: its pool recovers from the fault
    assert proxy.requests[FaultMode.PASS] >= 1


def test_a_stalled_store_gets_no_attempt_that_would_end_past_the_deadline(
    proxy: FaultProxy, stocked_bucket: str
) -> None:
    client = s3_client(_credentials(proxy.url), budget=FAST)
    proxy.mode = FaultMode.STALL
    started = time.monotonic()
    with pytest.raises(StorageUnavailable, match="ReadTimeout"):
        head_object(client, stocked_bucket, "dcp.tar")
    elapsed = time.monotonic() - started
    # Attempt 1 times out after 1 s; attempt 2 fits (1 + 1.5 <= 3), attempt 3 would not.
    assert proxy.requests[FaultMode.STALL] == 2
    assert 2 * FAST.read_timeout_seconds <= elapsed < FAST.deadline_seconds + SLACK_SECONDS


@pytest.mark.parametrize(
    "fault",
    [FaultMode.UNAVAILABLE, FaultMode.RESET, FaultMode.STALL, FaultMode.STOPPED],
    ids=lambda mode: mode.value,
)
def test_a_store_that_recovers_within_the_deadline_is_retried_into_success(
    proxy: FaultProxy, stocked_bucket: str, tmp_path: Path, fault: FaultMode
) -> None:
    # botocore draws each retry's delay at random, up to 50 ms x 2^n: FAST's six attempts at a
    # refused or reset connection are sometimes all spent before the store is back at 0.3 s.
    # Ten attempts outlast the outage all but surely, and a 6 s deadline refuses none of them.
    roomy = FAST.model_copy(update={"deadline_seconds": 6, "max_attempts": 10})
    client = s3_client(_credentials(proxy.url), budget=roomy)
    proxy.mode = fault
    recovery = threading.Timer(0.3, setattr, (proxy, "mode", FaultMode.PASS))
    recovery.start()
    try:
        result = _download(client, stocked_bucket, tmp_path)
    finally:
        recovery.cancel()
    assert result == Download(size=1000, sha256=hashlib.sha256(b"d" * 1000).hexdigest())
    assert proxy.requests[FaultMode.PASS] == 1
    if fault is not FaultMode.STOPPED:
        assert proxy.requests[fault] >= 1


def test_the_deadline_stops_retries_but_never_an_answered_transfer(
    proxy: FaultProxy, client, tmp_path: Path
) -> None:
    """A transfer longer than the deadline completes; it is retrying that the deadline ends."""
    no_time = StorageBudget(deadline_seconds=0.001)
    through_proxy = s3_client(_credentials(proxy.url), budget=no_time)
    bucket = _bucket(client)
    data = os.urandom(2 * MULTIPART_BYTES + 5)  # three parts, each a call of its own
    source = tmp_path / "image.aei"
    source.write_bytes(data)

    upload_file(through_proxy, source, bucket, "image.aei")
    result = download_object(
        through_proxy, bucket, "image.aei", tmp_path / "back.aei", max_bytes=len(data)
    )
    assert result.sha256 == hashlib.sha256(data).hexdigest()

    proxy.mode = FaultMode.UNAVAILABLE
    with pytest.raises(StorageUnavailable, match="503"):
        head_object(through_proxy, bucket, "image.aei")
    assert proxy.requests[FaultMode.UNAVAILABLE] == 1  # no retry: the deadline had passed


@pytest.mark.parametrize(("offset", "length"), [(0, 0), (512, -512), (-512, 512)])
def test_a_range_read_of_nothing_or_backwards_is_refused_before_any_request(
    offset: int, length: int
) -> None:
    """S3 ignores an empty or reversed Range and sends the whole object instead."""
    with pytest.raises(ValueError, match="no byte range"):
        read_range(object(), "bucket", "key", offset, length)
