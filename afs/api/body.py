"""JSON request bodies, read and validated by hand so every failure gets the cloud's error body.

FastAPI would parse the body before authentication runs and answer its own way; here the body is
read once (the signature covers it), then checked: media type, UTF-8, JSON, then the model.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from afs.api.problems import ApiProblem, describe_errors
from afs.errors import ApiErrorCode

M = TypeVar("M", bound=BaseModel)


def _invalid(message: str) -> ApiProblem:
    return ApiProblem(ApiErrorCode.INVALID_PARAMETER, message)


def parse_json_body(model: type[M], content_type: str | None, body: bytes) -> M:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise _invalid(
            f"header Content-Type: must be application/json, got {content_type or 'none'!r}"
        )
    if not body.strip():
        raise _invalid("body: is required (a JSON object)")
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _invalid(f"body: must be UTF-8 (invalid byte at offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise _invalid(
            f"body: is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise _invalid(f"body: must be a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(describe_errors(exc.errors())) from None


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` documenting a body this module parses (app.py adds the schemas)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }
