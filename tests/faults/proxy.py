"""A fault proxy: an HTTP/1.1 proxy on loopback in front of an S3 endpoint (or any HTTP server,
such as the factory's API), with switchable faults.

    with FaultProxy(s3_endpoint) as proxy:
        client = s3_client(StorageCredentials(endpoint=proxy.url, ...))
        proxy.mode = FaultMode.STALL          # the next request gets no answer
        ...
        proxy.mode = FaultMode.PASS           # and the one after that goes through again
        assert proxy.requests[FaultMode.STALL] == 1
        proxy.fail_next(FaultMode.UNAVAILABLE, 2)  # the next two get 503, then it passes again

The proxy reads each request whole (Content-Length or chunked framing) so that the fault applies
per request, also on a kept-alive connection, and forwards it byte for byte on a connection of its
own to the upstream. The mode is read when a request's head arrives. Standard library only.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from enum import Enum
from io import BufferedReader
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

_HOST = "127.0.0.1"
_UPSTREAM_TIMEOUT = 30.0
_UNAVAILABLE_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>ServiceUnavailable</Code>"
    b"<Message>Please reduce your request rate.</Message>"
    b"<RequestId>fault-proxy</RequestId></Error>"
)


class FaultMode(Enum):
    """What the proxy does with the next request."""

    PASS = "pass"  # forward it and its answer unchanged
    UNAVAILABLE = "unavailable"  # answer 503 with S3's ServiceUnavailable error body
    RESET = "reset"  # reset the connection (RST) once the request's head has arrived
    STALL = "stall"  # take the request and never answer; the connection stays open
    TRUNCATE = "truncate"  # forward it, send part of the answer, then close the connection
    STOPPED = "stopped"  # nothing listens on the port: connections are refused


class _Closed(Exception):
    """The peer closed the connection before a whole message arrived."""


class _Message:
    """One HTTP message as it travelled: its head (start line and headers) and its body bytes."""

    def __init__(self, head: bytes) -> None:
        self.head = head
        lines = head.decode("latin-1").split("\r\n")
        self.start_line = lines[0]
        self.headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        self.body = b""

    @property
    def method(self) -> str:
        return self.start_line.split(" ", 1)[0]

    @property
    def status(self) -> int:
        return int(self.start_line.split(" ", 2)[1])

    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        return None if value is None else int(value)


def _read_head(reader: BufferedReader) -> _Message | None:
    """The next message's head, or None if the peer closed the connection between messages."""
    lines: list[bytes] = []
    while True:
        line = reader.readline(65536)
        if not line:
            if lines:
                raise _Closed
            return None
        lines.append(line)
        if line == b"\r\n":
            return _Message(b"".join(lines))


def _read_exactly(reader: BufferedReader, size: int) -> bytes:
    data = reader.read(size)
    if len(data) < size:
        raise _Closed
    return data


def _read_chunked(reader: BufferedReader) -> bytes:
    """A chunked body as sent: chunk sizes, chunks and trailers included."""
    parts: list[bytes] = []
    while True:
        size_line = reader.readline(65536)
        if not size_line:
            raise _Closed
        parts.append(size_line)
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while True:  # trailers, up to the empty line
                line = reader.readline(65536)
                if not line:
                    raise _Closed
                parts.append(line)
                if line == b"\r\n":
                    return b"".join(parts)
        parts.append(_read_exactly(reader, size + 2))


def _read_body(reader: BufferedReader, message: _Message, *, until_close: bool) -> None:
    if message.chunked:
        message.body = _read_chunked(reader)
    elif message.content_length is not None:
        message.body = _read_exactly(reader, message.content_length)
    elif until_close:  # a response without framing ends where the connection does
        message.body = reader.read()


def _has_body(request: _Message, response: _Message) -> bool:
    status = response.status
    return request.method != "HEAD" and status >= 200 and status not in (204, 304)


def _unavailable(request: _Message) -> bytes:
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/xml\r\n"
        f"Content-Length: {len(_UNAVAILABLE_BODY)}\r\n"
        "x-amz-request-id: fault-proxy\r\n"
        "\r\n"
    ).encode()
    return head if request.method == "HEAD" else head + _UNAVAILABLE_BODY


def _truncated(response: _Message) -> bytes:
    """The head and the first half of the body; a bodiless answer loses all but its HTTP version.

    Cutting a bodiless answer within its headers could leave a well-formed shorter answer, which
    an HTTP client would accept; "HTTP/1.1" alone is a broken status line.
    """
    if response.body:
        return response.head + response.body[: len(response.body) // 2]
    return response.head[: len("HTTP/1.1")]


def _arm_reset(conn: socket.socket) -> None:
    # Linger on, timeout 0: closing the socket sends RST instead of FIN.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 in front of `upstream` whose behaviour `mode` switches.

    `port` 0 picks a free port; the proxy keeps that port across STOPPED and back. Use it as a
    context manager, or call `start` and `close`.
    """

    def __init__(self, upstream: str, *, mode: FaultMode = FaultMode.PASS, port: int = 0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self._upstream = (parts.hostname, parts.port)
        self._port = port
        self._mode = mode
        self._faults_left: int | None = None  # set by fail_next: requests until PASS again
        self._lock = threading.Lock()
        self._seen: Counter[FaultMode] = Counter()
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._started = False
        self._closed = False

    # --- the API ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The endpoint to give a client in place of the upstream's."""
        if not self._port:
            raise RuntimeError("the proxy has not been started")
        return f"http://{_HOST}:{self._port}"

    @property
    def mode(self) -> FaultMode:
        return self._mode

    @mode.setter
    def mode(self, mode: FaultMode) -> None:
        """Switch faults; into STOPPED closes the port and its connections, out of it reopens it."""
        with self._lock:
            self._switch(mode)

    def fail_next(self, mode: FaultMode, requests: int) -> None:
        """Give the next `requests` requests `mode`, then pass again: a fault of a known length,
        however fast the client retries. STOPPED has no requests to count; set `mode` instead."""
        if mode is FaultMode.STOPPED or requests < 1:
            raise ValueError("fail_next needs a fault that requests arrive in, and a count")
        with self._lock:
            self._switch(mode)
            self._faults_left = requests

    @property
    def requests(self) -> Counter[FaultMode]:
        """How many requests arrived in each mode (a copy); STOPPED refuses them before they do."""
        with self._lock:
            return self._seen.copy()

    @property
    def requests_seen(self) -> int:
        """How many requests arrived, whatever happened to them."""
        return self.requests.total()

    def start(self) -> Self:
        with self._lock:
            self._started = True
            if self._mode is FaultMode.STOPPED:
                self._port = self._port or _free_port()
            else:
                self._listen()
        return self

    def close(self) -> None:
        """Stop listening and drop every connection, stalled ones included."""
        with self._lock:
            self._closed = True
            self._stop_listening()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- listening (called with the lock held) ----------------------------------------------------

    def _switch(self, mode: FaultMode) -> None:
        previous, self._mode = self._mode, mode
        self._faults_left = None
        if not self._started or self._closed:
            return  # `start` opens the port if the mode says so
        if mode is FaultMode.STOPPED and previous is not FaultMode.STOPPED:
            self._stop_listening()
        elif mode is not FaultMode.STOPPED and previous is FaultMode.STOPPED:
            self._listen()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # The port must be ours again after STOPPED, though connections to it linger in TIME_WAIT.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((_HOST, self._port))
        listener.listen(64)
        self._port = listener.getsockname()[1]
        self._listener = listener
        self._spawn(self._accept, listener)

    def _stop_listening(self) -> None:
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        for conn in self._connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # its thread sees the end and closes it

    def _spawn(self, target: Callable[[socket.socket], None], conn: socket.socket) -> None:
        thread = threading.Thread(target=self._run, args=(target, conn), daemon=True)
        self._threads.add(thread)
        thread.start()

    def _run(self, target: Callable[[socket.socket], None], conn: socket.socket) -> None:
        try:
            target(conn)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # the listener was shut down
            with self._lock:
                if self._listener is not listener:
                    conn.close()
                    return
                self._connections.add(conn)
                self._spawn(self._serve, conn)

    # --- one client connection -------------------------------------------------------------------

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while self._exchange(conn, reader):
                pass
        except (_Closed, OSError, ValueError):
            pass  # the client went away, or sent what is not HTTP: drop the connection
        finally:
            with self._lock:
                self._connections.discard(conn)
            reader.close()
            conn.close()  # the socket's last reference: a reset armed on it fires now

    def _exchange(self, conn: socket.socket, reader: BufferedReader) -> bool:
        """Handle one request; whether the connection may carry another."""
        request = _read_head(reader)
        if request is None:
            return False
        with self._lock:
            mode = self._mode
            self._seen[mode] += 1
            if self._faults_left is not None:
                self._faults_left -= 1
                if self._faults_left == 0:
                    self._mode, self._faults_left = FaultMode.PASS, None
        if mode is FaultMode.STOPPED:  # arrived on a connection the stop is dropping
            return False
        if mode is FaultMode.RESET:
            _arm_reset(conn)
            return False
        if mode is FaultMode.STALL:
            while reader.read1(65536):  # swallow the body and whatever follows, until closed
                pass
            return False
        if request.headers.get("expect", "").lower() == "100-continue":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        _read_body(reader, request, until_close=False)
        if mode is FaultMode.UNAVAILABLE:
            conn.sendall(_unavailable(request))
            return True
        response = self._forward(request)
        if mode is FaultMode.TRUNCATE:
            conn.sendall(_truncated(response))
            return False
        conn.sendall(response.head + response.body)
        framed = response.chunked or response.content_length is not None
        return framed and response.headers.get("connection", "").lower() != "close"

    def _forward(self, request: _Message) -> _Message:
        """The upstream's final answer to `request`, on a connection used for it alone."""
        with socket.create_connection(self._upstream, timeout=_UPSTREAM_TIMEOUT) as upstream:
            upstream.sendall(request.head + request.body)
            with upstream.makefile("rb") as reader:
                while True:
                    response = _read_head(reader)
                    if response is None:
                        raise _Closed
                    if response.status >= 200:
                        break  # 1xx answers (100 Continue) were the proxy's to give
                if _has_body(request, response):
                    _read_body(reader, response, until_close=True)
                return response


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((_HOST, 0))
        port: int = probe.getsockname()[1]
        return port
