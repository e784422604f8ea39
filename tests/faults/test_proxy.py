"""The fault proxy itself, seen from a plain HTTP client: each mode does what it says."""

from __future__ import annotations

import http.client
import socket
import uuid
from collections.abc import Iterator

import boto3
import pytest

from afs.storage import ensure_bucket
from tests.faults.proxy import FaultMode, FaultProxy


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(s3_endpoint) as proxy:
        yield proxy


def _connection(proxy: FaultProxy, timeout: float = 5) -> http.client.HTTPConnection:
    host, port = proxy.url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=timeout)


def _stocked(s3_client, body: bytes) -> str:
    bucket = f"afs-proxy-{uuid.uuid4().hex[:12]}"
    ensure_bucket(s3_client, bucket)
    s3_client.put_object(Bucket=bucket, Key="k", Body=body)
    return bucket


def _signed_path(proxy: FaultProxy, method: str, bucket: str, key: str) -> str:
    """A presigned path and query for `method` on the object, through the proxy."""
    signer = boto3.client(
        "s3",
        endpoint_url=proxy.url,
        region_name="cn-north-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    url = signer.generate_presigned_url(method, Params={"Bucket": bucket, "Key": key})
    return url.removeprefix(proxy.url)


def test_pass_through_forwards_requests_and_answers_on_one_connection(
    proxy: FaultProxy, s3_client
) -> None:
    bucket = _stocked(s3_client, b"hello")
    path = _signed_path(proxy, "get_object", bucket, "k")
    conn = _connection(proxy)
    for _ in range(2):  # kept alive: the second request rides the first one's connection
        conn.request("GET", path)
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"hello")
    # A chunked request body arrives upstream whole.
    put = _signed_path(proxy, "put_object", bucket, "chunked")
    conn.request("PUT", put, body=iter([b"ab", b"cd"]), encode_chunked=True)
    assert conn.getresponse().status == 200
    assert s3_client.get_object(Bucket=bucket, Key="chunked")["Body"].read() == b"abcd"
    assert proxy.requests == {FaultMode.PASS: 3}
    assert proxy.requests_seen == 3


def test_unavailable_answers_503_with_an_s3_error_body(proxy: FaultProxy) -> None:
    proxy.mode = FaultMode.UNAVAILABLE
    conn = _connection(proxy)
    conn.request("GET", "/bucket/key")
    response = conn.getresponse()
    assert response.status == 503
    assert b"<Error><Code>ServiceUnavailable</Code>" in response.read()
    conn.request("HEAD", "/bucket/key")  # no body after a HEAD, and the connection lives on
    response = conn.getresponse()
    assert (response.status, response.read()) == (503, b"")
    assert proxy.requests[FaultMode.UNAVAILABLE] == 2


def test_reset_resets_the_connection(proxy: FaultProxy) -> None:
    proxy.mode = FaultMode.RESET
    conn = _connection(proxy)
    conn.request("GET", "/bucket/key")
    with pytest.raises(ConnectionResetError):
        conn.getresponse()


def test_stall_never_answers(proxy: FaultProxy) -> None:
    proxy.mode = FaultMode.STALL
    conn = _connection(proxy, timeout=0.5)
    conn.request("GET", "/bucket/key")
    with pytest.raises(TimeoutError):
        conn.getresponse()
    assert proxy.requests[FaultMode.STALL] == 1


def test_truncate_sends_part_of_the_answer(proxy: FaultProxy, s3_client) -> None:
    bucket = _stocked(s3_client, b"x" * 1000)
    proxy.mode = FaultMode.TRUNCATE
    conn = _connection(proxy)
    conn.request("GET", _signed_path(proxy, "get_object", bucket, "k"))
    response = conn.getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert len(caught.value.partial) == 500
    conn = _connection(proxy)
    conn.request("HEAD", _signed_path(proxy, "head_object", bucket, "k"))
    with pytest.raises(http.client.BadStatusLine):  # no body to cut: the status line is cut
        conn.getresponse()


def test_stopped_refuses_connections_then_listens_on_the_same_port(proxy: FaultProxy) -> None:
    url = proxy.url
    stalled = _connection(proxy, timeout=5)
    proxy.mode = FaultMode.STALL
    stalled.request("GET", "/bucket/key")

    proxy.mode = FaultMode.STOPPED
    # A stopped server drops its connections (RemoteDisconnected is a ConnectionResetError).
    with pytest.raises(ConnectionResetError):
        stalled.getresponse()
    host, port = url.removeprefix("http://").split(":")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=1).close()

    proxy.mode = FaultMode.UNAVAILABLE
    assert proxy.url == url
    conn = _connection(proxy)
    conn.request("GET", "/bucket/key")
    assert conn.getresponse().status == 503


def test_fail_next_faults_that_many_requests_then_passes_again(
    proxy: FaultProxy, s3_client
) -> None:
    bucket = _stocked(s3_client, b"hello")
    path = _signed_path(proxy, "get_object", bucket, "k")
    proxy.fail_next(FaultMode.UNAVAILABLE, 2)
    conn = _connection(proxy)
    statuses = []
    for _ in range(3):
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)
    assert statuses == [503, 503, 200]
    assert proxy.mode is FaultMode.PASS
    assert proxy.requests == {FaultMode.UNAVAILABLE: 2, FaultMode.PASS: 1}
    with pytest.raises(ValueError, match="fail_next"):
        proxy.fail_next(FaultMode.STOPPED, 1)
