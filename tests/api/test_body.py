"""Hostile request bodies: each is a 400 Ecs.0005 naming the rule broken, never a 5xx, and the
connection it came on stays usable."""

from __future__ import annotations

import http.client
import json
import uuid
from urllib.parse import urlsplit

import pytest

from afs.api.body import MAX_NESTING, parse_json_body
from afs.api.problems import ApiProblem
from afs.errors import ApiErrorCode
from afs.models import CreateFpgaImageBody
from afs.wire import signing
from tests.api.conftest import Project
from tests.api.sdk import error_of

VALID = b'"dcp_location": "obs-fpga:vu9p/dcp.tar", "name": "fine"'
TOO_DEEP = f"deeper than {MAX_NESTING} levels"
NOT_FINITE = "numbers must be finite"

# (body, words the message must hold)
HOSTILE: list[tuple[bytes, list[str]]] = [
    (b"[" * 30_000, [TOO_DEEP]),
    (b'{"a":' * 10_000, [TOO_DEEP]),  # under the 64 KiB body limit
    (b'{"fpga_image": ' + b"[" * MAX_NESTING + b"]" * MAX_NESTING + b"}", [TOO_DEEP]),
    (b'{"fpga_image": {"name": NaN}}', ["NaN", NOT_FINITE]),
    (b'{"fpga_image": {"name": Infinity}}', ["Infinity", NOT_FINITE]),
    (b'{"fpga_image": {"name": -Infinity}}', ["-Infinity", NOT_FINITE]),
    (b'{"fpga_image": {"name": 1e999999}}', ["1e999999", NOT_FINITE]),
    (b'{"fpga_image": {"name": 1' + b"0" * 5000 + b"}}", ["5001 digits", "at most"]),
    (
        b'{"fpga_image": {' + VALID + b', "description": "\\ud800"}}',
        ["fpga_image.description: holds a lone surrogate \\ud800"],
    ),
    (b'{"fpga_image": {"\\udc00x": 1}}', ["fpga_image.\\udc00x: the key holds a lone surrogate"]),
    (b"[]", ["must be a JSON object, got an array"]),
    (b'"fpga_image"', ["must be a JSON object, got a string"]),
    (b"null", ["must be a JSON object, got null"]),
    (b"4.2", ["must be a JSON object, got a number"]),
    (b"true", ["must be a JSON object, got true or false"]),
    (b'{"fpga_image": {' + VALID + b"}} trailing", ["not valid JSON", "Extra data"]),
    (b'{"fpga_image": {' + VALID + b"}}{}", ["not valid JSON", "Extra data"]),
    (b'\xef\xbb\xbf{"fpga_image": {' + VALID + b"}}", ["not valid JSON", "BOM"]),
    (b'{"fpga_image": {"name": "caf\xe9"}}', ["UTF-8", "offset 28"]),
    (b"", ["body: is required"]),
    (b" \r\n\t", ["body: is required"]),
    (b'{"fpga_image": {' + VALID + b', "name": "b"}}', ["fpga_image.name", "more than once"]),
    (b'{"fpga_image": {' + VALID + b'}, "fpga_image": {}}', ["fpga_image:", "more than once"]),
    (b'{"fpga_image": {"x": [{"k": 1, "k": 2}]}}', ["fpga_image.x.0.k", "more than once"]),
]
IDS = [f"{n}:{body[:24]!r}" for n, (body, _words) in enumerate(HOSTILE)]


@pytest.mark.parametrize(("raw", "words"), HOSTILE, ids=IDS)
def test_a_hostile_body_is_refused_naming_the_rule(raw: bytes, words: list[str]) -> None:
    with pytest.raises(ApiProblem) as refused:
        parse_json_body(CreateFpgaImageBody, "application/json", raw)
    assert refused.value.code == ApiErrorCode.INVALID_PARAMETER
    for word in words:
        assert word in refused.value.message
    refused.value.message.encode("utf-8")  # a lone surrogate never reaches the response


def test_a_body_nested_as_deep_as_allowed_reaches_the_model() -> None:
    depth = MAX_NESTING - 2  # the outer object and fpga_image's are the other two levels
    raw = b'{"fpga_image": {"x": ' + b"[" * depth + b"]" * depth + b"}}"
    with pytest.raises(ApiProblem, match=r"fpga_image\.x: is not a known field"):
        parse_json_body(CreateFpgaImageBody, "application/json", raw)


def test_a_valid_body_is_read() -> None:
    raw = b'{"fpga_image": {' + VALID + b', "description": "\\u4e2d\\u6587 ok"}}'
    body = parse_json_body(CreateFpgaImageBody, "application/json; charset=utf-8", raw)
    assert (body.fpga_image.name, body.fpga_image.description) == ("fine", "\u4e2d\u6587 ok")


def _signed(project: Project, method: str, path: str, body: bytes) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-Request-Id": uuid.uuid4().hex}
    client = project.client
    url = f"{client.base_url}{path}"
    return signing.sign(
        method, url, headers, body, access_key=client.access_key, secret_key=client.secret_key
    )


def test_hostile_bodies_get_400_and_the_connection_stays_usable(project: Project) -> None:
    create = f"/v2/{project.id}/cloudservers/fpga_image"
    connection = http.client.HTTPConnection(urlsplit(project.client.base_url).netloc, timeout=30)
    try:
        connection.connect()
        sock = connection.sock
        for raw, words in HOSTILE:
            connection.request("POST", create, raw, _signed(project, "POST", create, raw))
            response = connection.getresponse()
            answer = json.loads(response.read())
            assert (response.status, answer["error"]["code"]) == (400, "Ecs.0005"), answer
            assert all(word in answer["error"]["message"] for word in words), answer
            assert not response.will_close
            assert connection.sock is sock, "the server closed the connection"
        listing = f"/v1/{project.id}/cloudservers/fpga_image/detail"
        connection.request("GET", listing, headers=_signed(project, "GET", listing, b""))
        response = connection.getresponse()
        assert response.status == 200, response.read()
        response.read()
        assert connection.sock is sock
    finally:
        connection.close()


@pytest.mark.parametrize(("raw", "words"), HOSTILE[:3] + HOSTILE[-3:], ids=IDS[:3] + IDS[-3:])
def test_the_served_api_names_the_rule(project: Project, raw: bytes, words: list[str]) -> None:
    response = project.client.call(
        "POST", f"/v2/{project.id}/cloudservers/fpga_image", raw_body=raw
    )
    assert error_of(response) == (400, "Ecs.0005")
    for word in words:
        assert word in response.json()["error"]["message"]
