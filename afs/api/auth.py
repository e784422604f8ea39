"""Who is calling: the AK/SK signature of the request, and the projects its key may act on.

Every check fails as the cloud does: a bad signature, date or key is 401 Common.0013; a project in
the URL that the key is not bound to is 403 Ecs.0003; an X-Project-Id (the SDK sends the project of
its credential) other than the URL's is 400 Ecs.0023.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from afs.api.problems import ApiProblem
from afs.api.services import Services, services
from afs.catalog.credentials import AccessKey
from afs.errors import ApiErrorCode
from afs.models import PROJECT_ID_PATTERN
from afs.wire import signing

_PROJECT_ID = re.compile(PROJECT_ID_PATTERN)
_READS = {"GET", "HEAD"}  # replaying a read changes nothing (afs/catalog/replay.py)
_CLIENT_TOKEN_HEADER = "x-client-token"  # noqa: S105 - a header name


class Caller(BaseModel):
    """An authenticated caller acting on the URL's project."""

    access_key: str
    project_id: str
    replayed: bool = Field(
        False,
        description="a create seen before, let through only because it carries a signed client "
        "token: it may return the image that token made, never make one",
    )


def _unauthorized(message: str) -> ApiProblem:
    return ApiProblem(ApiErrorCode.BAD_CREDENTIAL, message)


def replay_refused() -> ApiProblem:
    return _unauthorized(
        "this signed request was already received; sign each request anew "
        f"(a new {signing.DATE_HEADER})"
    )


def _check_date(sdk_date: str | None, scope: signing.Scope | None, skew_seconds: int) -> datetime:
    """When the request was signed; refused unless within `skew_seconds` of now."""
    if not sdk_date:
        raise _unauthorized(f"header {signing.DATE_HEADER} is required (YYYYMMDDTHHMMSSZ, UTC)")
    try:
        signed_at = datetime.strptime(sdk_date, signing.DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise _unauthorized(
            f"header {signing.DATE_HEADER} must be YYYYMMDDTHHMMSSZ (UTC), got {sdk_date!r}"
        ) from None
    skew = abs((datetime.now(UTC) - signed_at).total_seconds())
    if skew > skew_seconds:
        raise _unauthorized(
            f"header {signing.DATE_HEADER} is {skew:.0f} s from the server's clock; "
            f"at most {skew_seconds} s is accepted"
        )
    if scope is not None and scope.date != sdk_date[:8]:
        raise _unauthorized(f"the credential's date {scope.date} is not {signing.DATE_HEADER}'s")
    return signed_at


def verify_request(
    key: AccessKey | None,
    authorization: signing.Authorization,
    *,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
) -> AccessKey:
    if key is None:
        raise _unauthorized(f"access key {authorization.access_key} is not known")
    missing = signing.REQUIRED_SIGNED_HEADERS - set(authorization.signed_headers)
    if missing:
        raise _unauthorized(f"SignedHeaders must include {', '.join(sorted(missing))}")
    if not signing.signature_matches(
        authorization,
        key.secret_key.get_secret_value(),
        method=method,
        path=path,
        query=query,
        headers=headers,
        body=body,
    ):
        raise _unauthorized(
            "the signature does not match the request (method, path, query, signed headers and "
            "body are signed)"
        )
    if (
        signing.payload_hash(headers, authorization.signed_headers, body)
        == signing.UNSIGNED_PAYLOAD
    ):
        # Signed, but the body is not: only a JSON body (which the SDK hashes) is accepted.
        raise ApiProblem(
            ApiErrorCode.INVALID_PARAMETER,
            f"header Content-Type: must be application/json, got {headers.get('content-type')!r}"
            " (the SDK leaves other bodies unsigned)",
        )
    return key


async def authenticate(
    request: Request, services: Annotated[Services, Depends(services)]
) -> Caller:
    """The dependency of every project route: verifies the request, then the project."""
    return await _authenticate(request, services, token_replays=False)


async def authenticate_create(
    request: Request, services: Annotated[Services, Depends(services)]
) -> Caller:
    """authenticate for the create route, where a client retrying with its client token may
    resend the very same request (the route then only returns the token's image)."""
    return await _authenticate(request, services, token_replays=True)


async def _authenticate(request: Request, services: Services, *, token_replays: bool) -> Caller:
    body = await request.body()  # first: an over-long body is 413 whoever sends it
    header = request.headers.get("authorization")
    if not header:
        raise _unauthorized("header Authorization is required (SDK-HMAC-SHA256 signature)")
    try:
        authorization = signing.parse_authorization(header)
    except signing.SignatureFormatError as exc:
        raise _unauthorized(str(exc)) from None
    headers = {name: request.headers[name] for name in authorization.signed_headers
               if name in request.headers}  # fmt: skip
    skew_seconds = services.settings.api_clock_skew_seconds
    signed_at = _check_date(request.headers.get("x-sdk-date"), authorization.scope, skew_seconds)
    credentials = services.credentials
    key = credentials.cached(authorization.access_key) or await run_in_threadpool(
        credentials.lookup, authorization.access_key
    )
    key = verify_request(
        key,
        authorization,
        method=request.method,
        path=request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
        query=request.url.query,
        headers=headers,
        body=body,
    )
    replayed = False
    if request.method not in _READS:
        expires_at = signed_at + timedelta(seconds=skew_seconds)
        replayed = not await run_in_threadpool(
            services.replays.first_use,
            key.access_key,
            authorization.signature,
            expires_at,
            datetime.now(UTC),
        )
        if replayed and not (
            token_replays and _CLIENT_TOKEN_HEADER in authorization.signed_headers
        ):
            raise replay_refused()
    return _authorize(key, request, replayed)


def _authorize(key: AccessKey, request: Request, replayed: bool) -> Caller:
    project_id = request.path_params.get("project_id", "")
    if not _PROJECT_ID.match(project_id):
        raise ApiProblem(
            ApiErrorCode.INVALID_PARAMETER,
            "project_id: must be 32 lowercase hexadecimal characters",
        )
    claimed = request.headers.get("x-project-id")
    if claimed is not None and claimed != project_id:
        raise ApiProblem(
            ApiErrorCode.PROJECT_MISMATCH,
            f"header X-Project-Id {claimed!r} is not the project in the URL {project_id}",
        )
    if key.project_id != project_id:
        raise ApiProblem(
            ApiErrorCode.NO_PERMISSION,
            f"access key {key.access_key} may not act on project {project_id}",
        )
    return Caller(access_key=key.access_key, project_id=project_id, replayed=replayed)


CallerDep = Annotated[Caller, Depends(authenticate)]
CreateCallerDep = Annotated[Caller, Depends(authenticate_create)]
