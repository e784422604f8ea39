"""A cap on request bodies, checked before any route reads them (413 in the cloud's error body)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from afs.api.problems import error_response
from afs.errors import AfsError, ApiErrorCode


class BodyTooLarge(AfsError):
    """The body grew past the limit while being read (caught here, answered 413)."""


class BodyLimit:
    """Refuses a declared Content-Length over the limit at once, and a body that grows past it
    while being read (chunked uploads declare none)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _refusal(self) -> tuple[ApiErrorCode, str]:
        code = ApiErrorCode.BODY_TOO_LARGE
        return code, f"request body: must be at most {self.max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit():
            message = "header Content-Length: must be a decimal number of bytes"
            await error_response(ApiErrorCode.INVALID_PARAMETER, message)(scope, receive, send)
            return
        if int(declared) > self.max_bytes:
            await error_response(*self._refusal())(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if not started:
                await error_response(*self._refusal())(scope, receive, send)
