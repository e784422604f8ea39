"""Storage against a real S3 server over HTTP (moto's, in its own process), and the error table."""

from __future__ import annotations

import hashlib
import io
import os
import time
import uuid
from pathlib import Path

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

from afs.devstack.localstack import free_port
from afs.models import StorageCredentials
from afs.storage import (
    Download,
    ObjectInaccessible,
    ObjectTooLarge,
    StorageError,
    StorageUnavailable,
    download_object,
    ensure_bucket,
    head_object,
    map_error,
    s3_client,
    upload_file,
)

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


def _no_leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# --- the client ----------------------------------------------------------------------------------


def test_the_client_is_configured_for_obs_and_moto(client) -> None:
    config = client.meta.config
    assert config.signature_version == "s3v4"
    assert config.s3["addressing_style"] == "path"
    assert config.retries == {"mode": "standard", "total_max_attempts": 5}
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
    client = s3_client(
        StorageCredentials(
            endpoint=closed, access_key=SecretStr(ACCESS_KEY), secret_key=SecretStr(SECRET_KEY)
        ),
        max_attempts=2,
        connect_timeout=1,
        read_timeout=1,
    )
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
