"""`afs worker --with-healthcheck`, as a service manager probes it: healthy while its workers poll
Prefect, with each worker's state, and gone when the host has drained."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path

import pytest

from afs.devstack.embedded import worker
from afs.devstack.localstack import free_port


def test_a_running_host_answers_its_health_check_until_it_stops(
    factory: None, tmp_path: Path
) -> None:
    port = free_port()
    options = ("--limit", "1", "--with-healthcheck", "--healthcheck-port", str(port))
    with worker(tmp_path, *options) as host:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:
            assert answer.status == 200
            health = json.loads(answer.read())
        roles = sorted(name.rsplit("-", 2)[1] for name in health["workers"])
        assert roles == ["builds", "maintenance", "packaging"]
        assert all(state["polling"] for state in health["workers"].values())
        host.send_signal(signal.SIGTERM)
        host.wait(timeout=60)
    log = (tmp_path / "worker.log").read_text()
    assert f"health check on http://127.0.0.1:{port}/health" in log
    with pytest.raises(OSError, match="Connection refused"):  # not outliving the worker
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
