"""Calls to the served API signed by the cloud's own SDK signer (huaweicloudsdkcore.Signer)."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.auth
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer


class SdkClient:
    """Signs like huaweicloudsdkcore's clients do and sends exactly what was signed."""

    def __init__(self, base_url: str, access_key: str, secret_key: str, project_id: str) -> None:
        self.base_url = base_url
        self.access_key = access_key
        self.secret_key = secret_key
        self.project_id = project_id
        self.session = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw_body: bytes | None = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        sign_headers: dict[str, str] | None = None,
        alter: dict[str, str] | None = None,
    ) -> requests.Response:
        """`sign_headers` are signed and sent; `alter` replaces headers after signing."""
        data = (
            raw_body
            if raw_body is not None
            else (None if body is None else json.dumps(body).encode())
        )
        header_params = {"Content-Type": "application/json", **(sign_headers or {})}
        request = SdkRequest(
            method=method,
            schema="http",
            host=urlsplit(self.base_url).netloc,
            resource_path=path,
            query_params=sorted((query or {}).items()),
            header_params=header_params,
            body=data or "",
        )
        Signer(BasicCredentials(self.access_key, self.secret_key)).sign(request)
        sent = {**request.header_params, **(headers or {}), **(alter or {})}
        return self.session.request(
            method, f"{self.base_url}{request.uri}", headers=sent, data=data, timeout=30
        )

    def create(self, request: dict[str, Any], **options: Any) -> requests.Response:
        path = f"/v2/{self.project_id}/cloudservers/fpga_image"
        return self.call("POST", path, body={"fpga_image": request}, **options)

    def register(self, request: dict[str, Any], **options: Any) -> requests.Response:
        path = f"/v1/{self.project_id}/cloudservers/fpga_image"
        return self.call("POST", path, body={"fpga_image": request}, **options)

    def list(self, **query: Any) -> requests.Response:
        path = f"/v1/{self.project_id}/cloudservers/fpga_image/detail"
        return self.call("GET", path, query=query)

    def delete(self, image_id: str, **options: Any) -> requests.Response:
        path = f"/v1/{self.project_id}/cloudservers/fpga_image/{image_id}"
        return self.call("DELETE", path, **options)

    def associate(self, image_id: str, ecs_image_id: str, method: str = "POST", **options: Any):
        path = f"/v1/{self.project_id}/cloudservers/fpga_image/{image_id}/association"
        return self.call(method, path, body={"image": {"id": ecs_image_id}}, **options)

    def associations(self, **query: Any) -> requests.Response:
        path = f"/v1/{self.project_id}/cloudservers/fpga_image/associations"
        return self.call("GET", path, query=query)


def anew() -> dict[str, Any]:
    """Options that make a request signed anew: the same request again is a replay (401)
    unless something signed differs, as X-Sdk-Date does a second later."""
    return {"sign_headers": {"X-Request-Id": uuid.uuid4().hex}}


def error_of(response: requests.Response) -> tuple[int, str]:
    """(status, code) of an error answer, checking it has the cloud's error body."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"], body
    return response.status_code, body["error"]["code"]


class SignedAuth(requests.auth.AuthBase):
    """requests' auth hook signing the final request with afs.wire.signing (the client side)."""

    def __init__(self, access_key: str, secret_key: str) -> None:
        self.access_key = access_key
        self.secret_key = secret_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        from afs.wire import signing

        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        content_type = request.headers.get("Content-Type")
        signed = signing.sign(
            request.method or "GET",
            request.url or "",
            {"Content-Type": content_type} if content_type else {},
            body,
            access_key=self.access_key,
            secret_key=self.secret_key,
        )
        request.headers.update(signed)
        return request
