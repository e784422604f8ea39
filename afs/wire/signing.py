"""AK/SK request signing (`SDK-HMAC-SHA256`), shared by the API (verifying) and clients (signing).

Two forms of the `Authorization` header are in use by the cloud's clients:

- the current SDK (`huaweicloudsdkcore` `Signer`): `SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=...,
  Signature=...`; the string to sign is keyed by the SK itself;
- the FP1 kit's CLI: `SDK-HMAC-SHA256 Credential=<AK>/<date>/<region>/<service>/sdk_request,
  SignedHeaders=..., Signature=...`; the key is derived from the SK through the scope
  (HMAC chain over "SDK"+SK, date, region, service, "sdk_request"), and the scope is signed too.

Both sign the same canonical request: method, canonical URI (every segment percent-encoded, always
ending in '/'), canonical query (sorted, percent-encoded), the signed headers (lower-case names,
trimmed values), their names, and the hex sha256 of the body.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from pydantic import BaseModel

from afs.errors import AfsError

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "X-Sdk-Date"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
SCOPE_TERMINATOR = "sdk_request"
# Headers every signature must cover: without them a signature could be moved to another host or
# replayed with another date.
REQUIRED_SIGNED_HEADERS = frozenset({"host", "x-sdk-date"})
# The SDK signs this instead of the body's hash for bodies that are not JSON.
CONTENT_HASH_HEADER = "x-sdk-content-sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

_AUTHORIZATION = re.compile(
    rf"^{ALGORITHM} (?:Access=(?P<access>[^,/\s]+)|Credential=(?P<credential>[^,\s]+)),\s*"
    r"SignedHeaders=(?P<signed>[a-z0-9;_.-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class SignatureFormatError(AfsError, ValueError):
    """The Authorization header is not one of the two forms."""


class Scope(BaseModel):
    """The FP1 CLI's credential scope: `<date>/<region>/<service>/sdk_request`."""

    date: str
    region: str
    service: str

    def __str__(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{SCOPE_TERMINATOR}"


class Authorization(BaseModel):
    access_key: str
    scope: Scope | None
    signed_headers: list[str]
    signature: str


def parse_authorization(value: str) -> Authorization:
    match = _AUTHORIZATION.match(value.strip())
    if match is None:
        raise SignatureFormatError(
            f"Authorization must be '{ALGORITHM} Access=<AK>, SignedHeaders=..., Signature=...' "
            f"or '{ALGORITHM} Credential=<AK>/<date>/<region>/<service>/{SCOPE_TERMINATOR}, ...'"
        )
    scope = None
    access_key = match["access"]
    if match["credential"] is not None:
        parts = match["credential"].split("/")
        if len(parts) != 5 or parts[4] != SCOPE_TERMINATOR or not all(parts):
            raise SignatureFormatError(
                f"Credential must be <AK>/<date>/<region>/<service>/{SCOPE_TERMINATOR}"
            )
        access_key = parts[0]
        scope = Scope(date=parts[1], region=parts[2], service=parts[3])
    return Authorization(
        access_key=access_key,
        scope=scope,
        signed_headers=match["signed"].split(";"),
        signature=match["signature"],
    )


def _encode(text: str) -> str:
    return quote(text, safe="~")


def canonical_uri(path: str) -> str:
    """Each segment percent-encoded (RFC 3986 unreserved kept), always ending in '/'."""
    uri = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query: str) -> str:
    """`k=v` pairs sorted by key then value, both percent-encoded; `k=` for an empty value."""
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in pairs)


def payload_hash(headers: Mapping[str, str], signed_headers: list[str], body: bytes) -> str:
    """The body's hex sha256, or UNSIGNED-PAYLOAD where the SDK signed that instead."""
    signed_unsigned = headers.get(CONTENT_HASH_HEADER) == UNSIGNED_PAYLOAD
    if body and CONTENT_HASH_HEADER in signed_headers and signed_unsigned:
        return UNSIGNED_PAYLOAD
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: list[str],
    body: bytes,
) -> str:
    """`headers` maps lower-case names to values; a signed header that is absent signs as ''."""
    canonical_headers = "".join(
        f"{name}:{headers.get(name, '').strip()}\n" for name in signed_headers
    )
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            canonical_headers,
            ";".join(signed_headers),
            payload_hash(headers, signed_headers, body),
        ]
    )


def string_to_sign(canonical: str, sdk_date: str, scope: Scope | None) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    lines = [ALGORITHM, sdk_date, *([str(scope)] if scope else []), digest]
    return "\n".join(lines)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def signing_key(secret_key: str, scope: Scope | None) -> bytes:
    """The SK itself (SDK form), or the key derived through the scope (FP1 CLI form)."""
    if scope is None:
        return secret_key.encode()
    key = _hmac(f"SDK{secret_key}".encode(), scope.date)
    for part in (scope.region, scope.service, SCOPE_TERMINATOR):
        key = _hmac(key, part)
    return key


def signature(secret_key: str, scope: Scope | None, text_to_sign: str) -> str:
    return _hmac(signing_key(secret_key, scope), text_to_sign).hex()


def signature_matches(
    authorization: Authorization,
    secret_key: str,
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
) -> bool:
    """Whether `authorization` signs exactly this request (constant-time comparison)."""
    canonical = canonical_request(method, path, query, headers, authorization.signed_headers, body)
    expected = signature(
        secret_key,
        authorization.scope,
        string_to_sign(canonical, headers.get("x-sdk-date", ""), authorization.scope),
    )
    return hmac.compare_digest(expected, authorization.signature)


def sign(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    access_key: str,
    secret_key: str,
    scope: Scope | None = None,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers to send: `headers` plus Host, X-Sdk-Date and Authorization.

    Every header given is signed, as the SDK does; `scope` selects the FP1 CLI form.
    """
    parts = urlsplit(url)
    sdk_date = (now or datetime.now(UTC)).strftime(DATE_FORMAT)
    sent = {**headers, "Host": parts.netloc, DATE_HEADER: sdk_date}
    lowered = {name.lower(): str(value) for name, value in sent.items()}
    signed_headers = sorted(lowered)
    canonical = canonical_request(
        method, parts.path or "/", parts.query, lowered, signed_headers, body
    )
    value = signature(secret_key, scope, string_to_sign(canonical, sdk_date, scope))
    credential = f"Credential={access_key}/{scope}" if scope else f"Access={access_key}"
    sent["Authorization"] = (
        f"{ALGORITHM} {credential}, SignedHeaders={';'.join(signed_headers)}, Signature={value}"
    )
    return sent
