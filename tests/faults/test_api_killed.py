"""The API (`afs serve` and its dispatcher) killed with SIGKILL during a burst of creates."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from afs.catalog import default_catalog
from afs.client import FactoryClient
from afs.client.library import ApiUnreachable
from afs.devstack.localstack import free_port, wait_until_healthy
from afs.status import ImageStatus
from tests.client.conftest import client_config
from tests.factory import Tenant, sample_tarball, settle_undispatched_images
from tests.faults.conftest import (
    DCP_KEY,
    BuildHost,
    afs_process,
    delivered_logs,
    finished,
    flow_runs_of,
    kill_group,
)
from tests.faults.proxy import FaultMode, FaultProxy

pytestmark = pytest.mark.slow

BURST = 5  # projects, each sending one create with a token of its own


@contextmanager
def api(port: int, log: Path) -> Iterator[int]:
    """`afs serve` on `port` with its dispatcher; yields its process id (its group's too)."""
    args = ["serve", "--port", str(port), "--dispatch-interval", "0.5"]
    with afs_process(args, log, {}) as process:
        wait_until_healthy(f"http://127.0.0.1:{port}/health", process, timeout=90, log=log)
        yield process.pid


class Project:
    """A tenant with its DCP in its bucket, the API's client, and the token of its one create."""

    def __init__(self, s3_endpoint: str, api_url: str, tarball: bytes) -> None:
        self.tenant = Tenant(s3_endpoint)
        self.tenant.put(DCP_KEY, tarball)
        self.client = FactoryClient(client_config(api_url, self.tenant))
        self.token = uuid.uuid4().hex

    def create(self) -> str:
        """The image id the API answers for this project's create, sent with its token."""
        return self.client.create(self.tenant.request(DCP_KEY), client_token=self.token).id


def recorded_images(projects: list[Project]) -> dict[str, str]:
    """token -> the image the catalog holds for each project that has one."""
    listed = {p.token: default_catalog().list_images(p.tenant.project_id)[1] for p in projects}
    return {token: images[0].id for token, images in listed.items() if images}


def test_creates_retried_with_their_tokens_after_the_api_is_killed_make_one_image_each(
    host: BuildHost, factory: None, s3_endpoint: str, session_dir: Path, tmp_path: Path
) -> None:
    settle_undispatched_images()  # the dispatcher beside this API would build them
    port, log = free_port(), session_dir / "logs" / "fault-api.log"
    tarball = sample_tarball(tmp_path)
    answered_before_kill: dict[str, str] = {}  # token -> image id
    answered = threading.Event()

    def create(project: Project) -> None:
        try:
            answered_before_kill[project.token] = project.create()
            answered.set()
        except ApiUnreachable:
            pass  # cut off, killed under it, or never arrived: the client retries with its token

    # The tenants reach the API through a proxy, which cuts the first answer on its way back:
    # a create recorded but never answered, the case tokens are for.
    with FaultProxy(f"http://127.0.0.1:{port}") as front:
        cut, *burst = [Project(s3_endpoint, front.url, tarball) for _ in range(BURST)]
        projects = [cut, *burst]
        front.fail_next(FaultMode.TRUNCATE, 1)
        with api(port, log) as server, ThreadPoolExecutor(len(burst)) as pool:
            create(cut)
            for project in burst:
                pool.submit(create, project)
            assert answered.wait(60), "no create was answered"
            kill_group(server)  # mid-burst: the API and its dispatcher, no handler runs
        unanswered = [p for p in projects if p.token not in answered_before_kill]
        recorded_unanswered = recorded_images(unanswered)
        assert cut.token in recorded_unanswered, "the create whose answer was cut is recorded"

        with api(port, log):
            retried = {project.token: project.create() for project in projects}
            assert answered_before_kill.items() <= retried.items()
            assert recorded_unanswered.items() <= retried.items()
            assert recorded_images(projects) == retried, "one image per token, no other"
            # None stays initialing: the restarted API's dispatcher starts each; each is built.
            for project in projects:
                record = finished(retried[project.token], timeout=300)
                assert record.status is ImageStatus.ACTIVE, record.message
                assert len(flow_runs_of(record.id)) == 1
                delivered_logs(project.tenant, record)
    print(f"of {BURST} creates, {len(answered_before_kill)} answered before the kill, ", end="")
    print(f"{len(recorded_unanswered)} recorded unanswered, ", end="")
    print(f"{len(unanswered) - len(recorded_unanswered)} never recorded")
