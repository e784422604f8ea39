"""The signing module signs exactly as the cloud's SDK and the FP1 CLI do."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from afs.wire import signing

AK, SK = "HPUAEXAMPLEACCESSKEY", "exampleSecretKey0123456789abcdefghijklmn"
WHEN = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
SDK_DATE = "20261127T100000Z"


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("POST", "/v2/p/cloudservers/fpga_image", {}, b'{"fpga_image": {"name": "a"}}'),
        ("GET", "/v1/p/cloudservers/fpga_image/detail", {"page": 2, "size": 10}, b""),
        ("GET", "/v1/p/x", {"a b": "c/d", "e": "\u4e2d"}, b""),
        ("DELETE", "/v1/p/cloudservers/fpga_image/abc", {}, b""),
    ],
)
def test_our_signature_is_the_sdk_signers(method, path, query, body) -> None:
    headers = {"Content-Type": "application/json", "X-Sdk-Date": SDK_DATE}
    sdk = SdkRequest(
        method=method,
        schema="https",
        host="ecs.example.com",
        resource_path=path,
        query_params=sorted(query.items()),
        header_params=dict(headers),
        body=body,
    )
    Signer(BasicCredentials(AK, SK)).sign(sdk)

    ours = signing.sign(
        method,
        f"https://ecs.example.com{sdk.uri}",
        {"Content-Type": "application/json"},
        body,
        access_key=AK,
        secret_key=SK,
        now=WHEN,
    )

    assert ours["Authorization"] == sdk.header_params["Authorization"]


def fp1_cli_authorization(method: str, host: str, uri: str, body: bytes) -> str:
    """The FP1 kit's fisclient `sign_request_v4`, transcribed (region cn-north-1, service ecs)."""

    def hmac_sha256(key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode(), hashlib.sha256).digest()

    key = hmac_sha256(b"SDK" + SK.encode(), "20261127")
    for part in ("cn-north-1", "ecs", "sdk_request"):
        key = hmac_sha256(key, part)
    canonical = "\n".join(
        [method, uri if uri.endswith("/") else uri + "/", "",
         f"host:{host}\nx-sdk-date:{SDK_DATE}\n", "host;x-sdk-date",
         hashlib.sha256(body).hexdigest()]
    )  # fmt: skip
    scope = "20261127/cn-north-1/ecs/sdk_request"
    to_sign = "\n".join(
        ["SDK-HMAC-SHA256", SDK_DATE, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"SDK-HMAC-SHA256 Credential={AK}/{scope}, SignedHeaders=host;x-sdk-date, "
        f"Signature={signature}"
    )


def test_our_scoped_signature_is_the_fp1_clis() -> None:
    body = b'{"fpga_image": {}}'
    scope = signing.Scope(date="20261127", region="cn-north-1", service="ecs")
    ours = signing.sign(
        "POST", "https://ecs.example.com/v1/p/cloudservers/fpga_image", {}, body,
        access_key=AK, secret_key=SK, scope=scope, now=WHEN,
    )  # fmt: skip
    expected = fp1_cli_authorization(
        "POST", "ecs.example.com", "/v1/p/cloudservers/fpga_image", body
    )
    assert ours["Authorization"] == expected


@pytest.mark.parametrize(
    "header",
    [
        "",
        "SDK-HMAC-SHA1 Access=a, SignedHeaders=host, Signature=" + "0" * 64,
        "SDK-HMAC-SHA256 Access=a, SignedHeaders=host",
        "SDK-HMAC-SHA256 Credential=a/20261127/r/s/other, SignedHeaders=host, Signature="
        + "0" * 64,
        "SDK-HMAC-SHA256 Access=a, SignedHeaders=host, Signature=XYZ",
    ],
)
def test_a_malformed_authorization_is_refused(header: str) -> None:
    with pytest.raises(signing.SignatureFormatError):
        signing.parse_authorization(header)


def test_both_forms_parse() -> None:
    sdk = signing.parse_authorization(
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host;x-sdk-date, Signature={'a' * 64}"
    )
    fp1 = signing.parse_authorization(
        f"SDK-HMAC-SHA256 Credential={AK}/20261127/cn-north-1/ecs/sdk_request, "
        f"SignedHeaders=host;x-sdk-date, Signature={'b' * 64}"
    )
    assert (sdk.access_key, sdk.scope) == (AK, None)
    assert fp1.access_key == AK
    assert fp1.scope == signing.Scope(date="20261127", region="cn-north-1", service="ecs")
    assert fp1.signed_headers == ["host", "x-sdk-date"]


def test_the_canonical_uri_always_ends_with_a_slash() -> None:
    assert signing.canonical_uri("/v1/p/detail") == "/v1/p/detail/"
    assert signing.canonical_uri("/v1/p/detail/") == "/v1/p/detail/"
    assert signing.canonical_uri("/a b/c") == "/a%20b/c/"
