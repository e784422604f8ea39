"""JSON request bodies, read and validated by hand so every failure gets the cloud's error body.

FastAPI would parse the body before authentication runs and answer its own way; here the body is
read once (the signature covers it), then checked: media type, UTF-8, nesting depth, JSON (finite
numbers, no key twice in an object, no lone surrogate), then the model. Whatever a client sends is
its own 400, never the server's 500.
"""

from __future__ import annotations

import json
import math
import re
import sys
from itertools import accumulate
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel, ValidationError

from afs.api.problems import ApiProblem, describe_errors
from afs.errors import ApiErrorCode

M = TypeVar("M", bound=BaseModel)

# Arrays and objects inside one another: the bodies of this API need two levels.
MAX_NESTING = 16
# A JSON string (escapes included), or an unterminated one up to the end: the closing quote is
# optional so that a string left open is consumed once, not rescanned from each later quote.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_TYPES: dict[type, str] = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}


def _invalid(message: str) -> ApiProblem:
    return ApiProblem(ApiErrorCode.INVALID_PARAMETER, message)


def _nesting(body: bytes) -> int:
    """How deep arrays and objects nest in `body`, counted without parsing it.

    The decoder recurses once per level and fails with RecursionError (a 500) long before the
    body limit; counting first keeps a deep body a client's error.
    """
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(_STEP[byte] for byte in brackets), default=0)


def _shown(text: str) -> str:
    """`text` as a message may hold it: a lone surrogate cannot be encoded, so it is escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class _RepeatedKey(dict[str, Any]):
    """An object in which `key` appears more than once; reported with its path after parsing."""

    def __init__(self, pairs: list[tuple[str, Any]], key: str) -> None:
        super().__init__(pairs)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A repeated key would silently keep its last value; manifest.json refuses it too.
    seen: set[str] = set()
    for key, _value in pairs:
        if key in seen:
            return _RepeatedKey(pairs, key)
        seen.add(key)
    return dict(pairs)


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        digits = len(text.lstrip("-"))
        limit = sys.get_int_max_str_digits()
        raise _invalid(
            f"body: a number of {digits} digits is too long (at most {limit} digits)"
        ) from None


def _float(text: str) -> float:
    value = float(text)  # an exponent too large for a double makes inf, not an error
    if not math.isfinite(value):
        _not_finite(text)
    return value


def _not_finite(text: str) -> NoReturn:
    shown = text if len(text) <= 32 else f"{text[:32]}..."
    raise _invalid(f"body: {shown} is out of range (numbers must be finite)")


def _check(path: str, value: Any) -> None:
    """Repeated keys and lone surrogates, named by where they are (the depth is bounded)."""
    if isinstance(value, str):
        surrogate = _SURROGATE.search(value)
        if surrogate:
            raise _invalid(
                f"{path or 'body'}: holds a lone surrogate {_shown(surrogate[0])}, "
                "which is not a Unicode character"
            )
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check(f"{path}.{index}" if path else str(index), item)
    elif isinstance(value, dict):
        if isinstance(value, _RepeatedKey):
            where = f"{path}.{value.key}" if path else value.key
            raise _invalid(f"{_shown(where)}: appears more than once in its object")
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if _SURROGATE.search(key):
                raise _invalid(f"{_shown(where)}: the key holds a lone surrogate")
            _check(where, item)


def parse_json_body(model: type[M], content_type: str | None, body: bytes) -> M:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise _invalid(
            f"header Content-Type: must be application/json, got {content_type or 'none'!r}"
        )
    if not body.strip():
        raise _invalid("body: is required (a JSON object)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(f"body: must be UTF-8 (invalid byte at offset {exc.start})") from None
    if _nesting(body) > MAX_NESTING:
        raise _invalid(f"body: arrays and objects nest deeper than {MAX_NESTING} levels")
    try:
        data = json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_integer,
            parse_float=_float,
            parse_constant=_not_finite,
        )
    except json.JSONDecodeError as exc:
        raise _invalid(
            f"body: is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(data, dict):
        raise _invalid(f"body: must be a JSON object, got {_JSON_TYPES[type(data)]}")
    _check("", data)
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
