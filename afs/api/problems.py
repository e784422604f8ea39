"""Every failure as the cloud's error body `{"error": {"code": ..., "message": ...}}`.

Routes raise ApiProblem (or let a domain error through: the table below maps it); framework errors
(unknown route or method, parameter validation) and unexpected exceptions are turned into the same
body here, so a client never sees a framework default or a stack trace.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from afs import catalog
from afs.errors import AfsError, ApiErrorCode
from afs.wire.errors import ErrorBody, ErrorDetail

log = logging.getLogger(__name__)

# What a domain error means to a client; the error's own text names the image, token or pair.
_DOMAIN_ERRORS: dict[type[Exception], ApiErrorCode] = {
    catalog.QuotaExceeded: ApiErrorCode.QUOTA_EXCEEDED,
    catalog.ImageNotFound: ApiErrorCode.IMAGE_NOT_FOUND,
    catalog.ImageProtected: ApiErrorCode.IMAGE_PROTECTED,
    catalog.WrongStatus: ApiErrorCode.IMAGE_STATUS_CONFLICT,
    catalog.ClientTokenConflict: ApiErrorCode.CLIENT_TOKEN_CONFLICT,
    catalog.AssociationExists: ApiErrorCode.ASSOCIATION_EXISTS,
    catalog.AssociationLimit: ApiErrorCode.ASSOCIATION_LIMIT,
    catalog.AssociationNotFound: ApiErrorCode.ASSOCIATION_NOT_FOUND,
}
# Messages for pydantic's error types, phrased as the rule broken.
_RULES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_type": "must be a string",
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
}
_ID_RULE = "must be 32 lowercase hexadecimal characters"
_ECS_ID_RULE = "must be an ECS image id: a UUID in lowercase (8-4-4-4-12 hexadecimal digits)"
_PATTERN_RULES = {
    "project_id": _ID_RULE,
    "fpga_image_id": _ID_RULE,
    "image_id": _ECS_ID_RULE,
    "id": _ECS_ID_RULE,
}


class ApiProblem(AfsError):
    def __init__(self, code: ApiErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_response(
    code: ApiErrorCode, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code.code, message=message))
    return JSONResponse(body.model_dump(), status_code=code.status, headers=headers)


def describe_errors(errors: Sequence[Any]) -> str:
    """'field: rule; field: rule' for pydantic's error list (locations joined with '.')."""
    parts = []
    for error in errors:
        location = [str(part) for part in error["loc"]]
        where = {"query": "query parameter ", "path": "", "header": "header "}.get(location[0])
        if where is not None:
            location = location[1:]
        field = ".".join(location) or "body"
        kind = error["type"]
        if kind == "string_pattern_mismatch" and location[-1:] and location[-1] in _PATTERN_RULES:
            rule = _PATTERN_RULES[location[-1]]
        else:
            rule = _RULES.get(kind) or str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{where or ''}{field}: {rule}")
    return "; ".join(parts)


def error_responses(*codes: ApiErrorCode) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these codes (grouped by HTTP status), plus the ones every
    authenticated operation can answer."""
    every = (
        ApiErrorCode.INVALID_PARAMETER,
        ApiErrorCode.PROJECT_MISMATCH,
        ApiErrorCode.BAD_CREDENTIAL,
        ApiErrorCode.NO_PERMISSION,
        ApiErrorCode.INTERNAL_ERROR,
    )
    by_status: dict[int, list[ApiErrorCode]] = defaultdict(list)
    for code in dict.fromkeys((*every, *codes)):
        by_status[code.status].append(code)
    return {
        status: {
            "model": ErrorBody,
            "description": "; ".join(f"{code.code}: {code.meaning}" for code in group),
        }
        for status, group in sorted(by_status.items())
    }


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _api_error(_request: Request, exc: ApiProblem) -> JSONResponse:
        return error_response(exc.code, exc.message)

    for error_type, code in _DOMAIN_ERRORS.items():

        async def _domain_error(
            _request: Request, exc: Exception, code: ApiErrorCode = code
        ) -> JSONResponse:
            return error_response(code, str(exc))

        app.add_exception_handler(error_type, _domain_error)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(ApiErrorCode.INVALID_PARAMETER, describe_errors(exc.errors()))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        where = f"{request.method} {request.url.path}"
        if exc.status_code == 404:
            return error_response(ApiErrorCode.NO_SUCH_API, f"no API at {where}")
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            return error_response(
                ApiErrorCode.METHOD_NOT_ALLOWED,
                f"{where} is not allowed; the path accepts {allowed}",
                headers={"Allow": allowed},
            )
        if exc.status_code < 500:
            return error_response(ApiErrorCode.INVALID_PARAMETER, str(exc.detail))
        return error_response(ApiErrorCode.INTERNAL_ERROR, "internal error")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(ApiErrorCode.INTERNAL_ERROR, "internal error; the factory logged it")
