"""Shared by the API benchmarks: the embedded stack with `afs serve`, signed clients, stats."""

from __future__ import annotations

import contextlib
import functools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import requests.auth
from pydantic import BaseModel

from afs.devstack.localstack import (
    free_port,
    local_store_keys,
    prefect_environment,
    prefect_server,
    s3_server,
    start,
    stop,
)
from afs.wire import signing


class Timings(BaseModel):
    """Latencies (seconds) of calls, how many failed, and the wall time they took together."""

    latencies: list[float] = []
    failures: int = 0
    elapsed: float = 0.0

    def __add__(self, other: Timings) -> Timings:
        return Timings(
            latencies=self.latencies + other.latencies,
            failures=self.failures + other.failures,
            elapsed=self.elapsed + other.elapsed,
        )

    @property
    def stats(self) -> Stats:
        latencies = sorted(self.latencies)
        return Stats(
            p50_ms=statistics.median(latencies) * 1000,
            p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
            per_second=len(latencies) / self.elapsed,
            failures=self.failures,
        )


class Stats(BaseModel):
    p50_ms: float
    p99_ms: float
    per_second: float
    failures: int = 0

    def line(self, label: str) -> str:
        failed = f"   ({self.failures} failed)" if self.failures else ""
        return (
            f"{label:<44} p50 {self.p50_ms:8.1f} ms   p99 {self.p99_ms:8.1f} ms   "
            f"{self.per_second:8.1f}/s{failed}"
        )


def time_calls(calls: list[Callable[[], None]], concurrency: int) -> Timings:
    """Run every call on `concurrency` threads; latency of each, wall time of all."""

    def timed(call: Callable[[], None]) -> tuple[float, bool]:
        begun = time.perf_counter()
        try:
            call()
        except Exception:
            return time.perf_counter() - begun, False  # counted, and its time still counts
        return time.perf_counter() - begun, True

    begun = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(timed, calls))
    return Timings(
        latencies=[latency for latency, _ in results],
        failures=sum(not ok for _, ok in results),
        elapsed=time.perf_counter() - begun,
    )


def measure(calls: list[Callable[[], None]], concurrency: int) -> Stats:
    return time_calls(calls, concurrency).stats


def _count_to(rounds: int) -> None:
    total = 0
    for number in range(rounds):
        total += number


def fixed_cpu_work(seconds: float) -> Callable[[], None]:
    """A call doing a fixed amount of pure CPU work that takes `seconds` when nothing interferes.

    Its p99 is what this machine's stalls alone do to work of that length: the floor under any
    p99 measured in the same run, whatever the code under test does.
    """
    rounds = 200_000
    fastest = min(time_calls([lambda: _count_to(rounds)] * 5, 1).latencies)
    return functools.partial(_count_to, max(1, int(rounds * seconds / fastest)))


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendant_processes() -> dict[int, str]:
    """This process's children, their children and so on: pid -> command line."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            pid = int(stat.parent.name)
            parents[pid] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
            commands[pid] = command.decode(errors="replace")
    found, frontier = {}, {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier}
        found.update({pid: commands[pid] for pid in frontier})
    return found


class SignedAuth(requests.auth.AuthBase):
    def __init__(self, access_key: str, secret_key: str) -> None:
        self.access_key, self.secret_key = access_key, secret_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        request.headers.update(
            signing.sign(
                request.method or "GET",
                request.url or "",
                {"Content-Type": "application/json"} if body else {},
                body,
                access_key=self.access_key,
                secret_key=self.secret_key,
            )
        )
        return request


def signed_session(access_key: str, secret_key: str) -> requests.Session:
    """A client as an SDK is one: signed requests on kept-alive connections."""
    session = requests.Session()
    session.auth = SignedAuth(access_key, secret_key)
    # Proxy variables are read from the environment on every request otherwise: a cost of the
    # benchmark's client, not of the API it measures.
    session.trust_env = False
    return session


@contextlib.contextmanager
def embedded_api() -> Iterator[str]:
    """moto S3, a Prefect server and `afs serve` (API + dispatcher) under a temporary home, which
    this process's settings and catalog then point at; yields the API's URL."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from afs.catalog import default_catalog
    from afs.settings import get_settings

    with tempfile.TemporaryDirectory(prefix="afs-bench-") as directory:
        home = Path(directory)
        logs = home / "logs"
        os.environ["AFS_HOME"] = str(home)
        with s3_server(logs) as endpoint, prefect_server(home / "prefect") as prefect_url:
            os.environ["AFS_OBS_ENDPOINT"] = endpoint
            os.environ.update(local_store_keys())
            os.environ.update(prefect_environment(home / "prefect", prefect_url))
            get_settings.cache_clear()
            default_catalog.cache_clear()
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            command = [sys.executable, "-m", "afs.api.commands", "serve", "--port", str(port)]
            api = start(command, f"{url}/health", logs / "api.log", dict(os.environ), timeout=90)
            try:
                with temporary_settings(updates={PREFECT_API_URL: prefect_url}):
                    yield url
            finally:
                stop(api)
