"""The build farm for real: PostgreSQL under Prefect and the catalog, the API with its dispatcher,
and two build hosts (`afs worker` in process trees of their own) sharing the work.

Host A has Vivado 2017.2 and 2017.4.op and takes two builds at once; host B has 2017.2 only and
takes one. The farm has one Vivado licence. Every command here is one the README's production
section gives an operator.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from afs.catalog import Catalog
from afs.catalog.credentials import CredentialStore
from afs.client import FactoryClient
from afs.client.config import ClientConfig
from afs.devstack.embedded import wait_for_worker
from afs.devstack.localstack import (
    free_port,
    prefect_environment,
    prefect_server,
    start,
    stop,
)
from afs.errors import FailureCause, cause_of
from afs.models import ImageRecord
from afs.settings import emulator_binary, get_settings
from afs.status import FINISHED, ImageStatus
from tests.factory import Tenant, kill_tree, process_tree, sample_tarball

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

DCP_KEY = "dcp/design.tar"
TOOL_VERSIONS = ("2017.2", "2017.4.op")
HOSTS = {"a": (TOOL_VERSIONS, 2), "b": (("2017.2",), 1)}  # tool versions, --limit
_BUILD_TAKEN = re.compile(r"Worker '\S+-builds-\d+' submitting flow run '([0-9a-f-]{36})'")
# Two hosts that poll at once may both try a run: the server lets one have it, and the other's
# worker logs that it aborted its submission.
_TAKE_ABORTED = re.compile(r"Aborted submission of flow run '([0-9a-f-]{36})'")


def _database(server_url: str, name: str, driver: str) -> str:
    """A new database on the session's PostgreSQL server; its URL with `driver`."""
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.replace("postgresql+psycopg", f"postgresql+{driver}").rsplit("/", 1)[0] + (
        f"/{name}"
    )


def _flow_runs(pid: int) -> set[str]:
    """Ids of the flow runs the worker process `pid` runs now, builds and maintenance alike (its
    two workers share the process)."""
    children = [child for child in process_tree(pid)[1:] if _parent(child) == pid]
    return {run for child in children if (run := _flow_run_id(child))}


def _flow_run_id(pid: int) -> str | None:
    try:
        environment = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for variable in environment:
        if variable.startswith(b"PREFECT__FLOW_RUN_ID="):
            return variable.partition(b"=")[2].decode()
    return None


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _vivados(hosts: list[int]) -> int:
    """Vivado (emulator) processes running now under the farm's hosts, their supervisors not
    counted (other tests on this machine may run their own)."""
    count = 0
    for pid in {member for host in hosts for member in process_tree(host)}:
        command = _cmdline(pid)
        if b"afs-vivado-emulator" in command and b"build.tcl" in command:
            count += b"supervisor" not in command
    return count


class Peaks:
    """Samples, every 0.1 s, the flow runs each host runs and the Vivado processes running."""

    def __init__(self) -> None:
        self.hosts: dict[str, int] = {}
        self.samples: dict[str, list[set[str]]] = {}
        self.vivado = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def watch(self, name: str, pid: int) -> None:
        self.hosts[name] = pid
        self.samples[name] = []

    def builds(self, name: str, build_runs: set[str]) -> int:
        """The most of `build_runs` host `name` was seen running at once; the reconcile and
        reprocess runs its maintenance worker ran beside them are not builds."""
        return max((len(runs & build_runs) for runs in self.samples[name]), default=0)

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            for name, pid in list(self.hosts.items()):
                self.samples[name].append(_flow_runs(pid))
            self.vivado = max(self.vivado, _vivados(list(self.hosts.values())))

    def __enter__(self) -> Peaks:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


class Farm:
    def __init__(self, root: Path, catalog_url: str, api_url: str, logs: Path) -> None:
        self.root = root
        self.catalog = Catalog(catalog_url)
        self.api_url = api_url
        self.logs = logs
        self.hosts: dict[str, subprocess.Popen[bytes]] = {}
        self.environment: dict[str, str] = {}

    def host_environment(self, name: str) -> dict[str, str]:
        versions, _ = HOSTS[name]
        home = self.root / f"host-{name}"
        if not home.exists():
            home.mkdir()
            (home / "shells").symlink_to(get_settings().shells_dir, target_is_directory=True)
        binaries = {version: emulator_binary(version) for version in versions}
        return {
            **self.environment,
            "AFS_HOME": str(home),
            "AFS_VIVADO_BINARIES": json.dumps(binaries),
            "AFS_DRAIN_TIMEOUT_SECONDS": "3",
        }

    def start_host(self, name: str) -> subprocess.Popen[bytes]:
        _, limit = HOSTS[name]
        command = [sys.executable, "-m", "afs.cli", "worker", "--limit", str(limit)]
        log = self.logs / f"farm-host-{name}.log"
        process = start(command, None, log, self.host_environment(name), timeout=60)
        wait_for_worker(process)
        self.hosts[name] = process
        return process

    def runs_taken_by(self, name: str) -> set[str]:
        """Flow run ids host `name` ran, from its worker's log."""
        log = (self.logs / f"farm-host-{name}.log").read_text()
        return set(_BUILD_TAKEN.findall(log)) - set(_TAKE_ABORTED.findall(log))

    def client(self, tenant: Tenant) -> FactoryClient:
        key = CredentialStore.from_settings(get_settings(), self.catalog).create(tenant.project_id)
        config = ClientConfig(
            api_url=self.api_url,
            access_key=key.access_key,
            secret_key=key.secret_key,
            project_id=key.project_id,
            storage=tenant.storage.credentials,
        )
        return FactoryClient(config)

    def wait(self, image_ids: list[str], until: set[ImageStatus], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            statuses = {image_id: self.catalog.get(image_id).status for image_id in image_ids}
            if all(status in until for status in statuses.values()):
                return
            assert time.monotonic() < deadline, f"not {until} in {timeout:g} s: {statuses}"
            time.sleep(1)


@pytest.fixture(scope="module")
def farm(
    factory: None, postgres_url: str, session_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Farm]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    root = tmp_path_factory.mktemp("farm")
    logs = session_dir / "logs"
    prefect_database = _database(postgres_url, "farm_prefect", "asyncpg")
    catalog_url = _database(postgres_url, "farm_catalog", "psycopg")
    settings = get_settings()
    with contextlib.ExitStack() as stack:
        prefect_url = stack.enter_context(
            prefect_server(root / "prefect", database_url=prefect_database)
        )
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: prefect_url}))
        api_port = free_port()
        farm = Farm(root, catalog_url, f"http://127.0.0.1:{api_port}", logs)
        farm.environment = {
            **os.environ,
            **prefect_environment(root / "prefect", prefect_url),
            "AFS_CATALOG_URL": catalog_url,
            "AFS_TENANTS_FILE": str(settings.tenants_path),
            "AFS_CREDENTIALS_KEY_FILE": str(settings.credentials_key_path),
            "AFS_VIVADO_LICENCES": "1",
            "AFS_ZOMBIE_AFTER_SECONDS": "45",  # the least it may be: a lost host is found sooner
            "PREFECT_WORKER_QUERY_SECONDS": "1",
        }
        deploy = subprocess.run(
            [sys.executable, "-m", "afs.cli", "deploy"],
            env={**farm.environment, "AFS_HOME": str(root / "deployer")},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert deploy.returncode == 0, deploy.stderr
        serve = [sys.executable, "-m", "afs.cli", "serve", "--port", str(api_port),
                 "--dispatch-interval", "0.5"]  # fmt: skip
        api_env = {**farm.environment, "AFS_HOME": str(root / "api")}
        api = start(serve, f"{farm.api_url}/health", logs / "farm-api.log", api_env, timeout=90)
        stack.callback(stop, api, 20)
        for name in HOSTS:
            stack.callback(lambda name=name: stop(farm.hosts[name], 60))
            farm.start_host(name)
        yield farm


def _submit(farm: Farm, tenants: list[Tenant], tarballs: list[bytes]) -> list[str]:
    """One image per tenant, through the API."""
    image_ids = []
    for tenant, tarball in zip(tenants, tarballs, strict=True):
        tenant.put(DCP_KEY, tarball)
        with farm.client(tenant) as client:
            image_ids.append(client.create(tenant.request(DCP_KEY)).id)
    return image_ids


def _wait_until_building(farm: Farm, name: str, image_ids: list[str], timeout: float) -> None:
    """Until host `name` has taken the runs of `image_ids` and runs them."""
    deadline = time.monotonic() + timeout
    while True:
        runs = {farm.catalog.get(image_id).flow_run_id for image_id in image_ids}
        if runs <= farm.runs_taken_by(name) and runs <= _flow_runs(farm.hosts[name].pid):
            return
        assert time.monotonic() < deadline, f"host {name} never ran {image_ids}"
        time.sleep(0.5)


def _tarballs(directory: Path, emulator_fault: str | None = None) -> dict[str, bytes]:
    """A sample tarball for each tool version: the kit's vivado flow builds with 2017.2, its
    sdaccel flow with 2017.4.op."""
    tarballs = {}
    for version, flow in zip(TOOL_VERSIONS, ("vivado", "sdaccel"), strict=True):
        (directory / version).mkdir()
        tarballs[version] = sample_tarball(
            directory / version, flow=flow, emulator_fault=emulator_fault
        )
    return tarballs


def _tool_version(record: ImageRecord) -> str:
    return str(record.metadata["manifest"]["tool_version"])


def test_two_hosts_share_the_builds_each_by_its_tools_and_limits(
    farm: Farm, s3_endpoint: str, tmp_path: Path
) -> None:
    tarballs = _tarballs(tmp_path)
    tenants = [Tenant(s3_endpoint) for _ in range(8)]
    with Peaks() as peaks:
        for name, process in farm.hosts.items():
            peaks.watch(name, process.pid)
        image_ids = _submit(farm, tenants, [tarballs[TOOL_VERSIONS[n % 2]] for n in range(8)])
        farm.wait(image_ids, {ImageStatus.ACTIVE}, timeout=600)

    records = [farm.catalog.get(image_id) for image_id in image_ids]
    assert Counter(_tool_version(record) for record in records) == {"2017.2": 4, "2017.4.op": 4}
    taken = {name: farm.runs_taken_by(name) for name in HOSTS}
    for record in records:
        hosts = [name for name in HOSTS if record.flow_run_id in taken[name]]
        assert len(hosts) == 1, f"run {record.flow_run_id} taken by {hosts}"
        if _tool_version(record) == "2017.4.op":
            assert hosts == ["a"], "a 2017.4.op build ran on the host without it"
    print(f"runs per host: { {name: len(runs) for name, runs in taken.items()} }")
    builds = {name: peaks.builds(name, taken[name]) for name in HOSTS}
    print(f"peak builds per host: {builds}; peak Vivado processes: {peaks.vivado}")
    assert taken["b"], "host B never took a build: the farm did not share the work"
    for name, (_, limit) in HOSTS.items():
        assert 1 <= builds[name] <= limit, f"host {name} ran {builds[name]} builds at once"
    assert peaks.vivado == 1, "the licence limit (1) was exceeded, or no Vivado was seen"


# The README's listing commands, and what each must show on the farm.
_LISTINGS = {
    ("deployment", "ls"): ["create-fpga-image", "reconcile-fpga-images", "reprocess-fpga-images"],
    ("work-queue", "ls", "--pool", "fpga-builders"): ["vivado-2017.2", "vivado-2017.4.op"],
    ("global-concurrency-limit", "ls"): ["vivado-licences"],
}


def test_the_operator_lists_what_afs_deploy_made(farm: Farm) -> None:
    for arguments, names in _LISTINGS.items():
        listed = subprocess.run(
            [sys.executable, "-m", "prefect", *arguments],
            env={**farm.environment, "COLUMNS": "250"},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        for name in names:
            assert name in listed, f"prefect {' '.join(arguments)} does not list {name}"


def _run_reprocessing(farm: Farm) -> None:
    """What the 15-minute schedule does, now: a run of the reprocess deployment."""
    from prefect.deployments import run_deployment

    run_deployment("reprocess-fpga-images/reprocess-fpga-images", timeout=120)


def test_a_drained_host_and_a_lost_host_lose_no_image(
    farm: Farm, s3_endpoint: str, tmp_path: Path
) -> None:
    slow = _tarballs(tmp_path, emulator_fault="slow:10")
    tenants = [Tenant(s3_endpoint) for _ in range(3)]
    # Two 2017.4.op builds fill host A (limit 2); the 2017.2 build can then only go to host B.
    on_a = _submit(farm, tenants[:2], [slow["2017.4.op"]] * 2)
    _wait_until_building(farm, "a", on_a, timeout=180)
    on_b = _submit(farm, tenants[2:], [slow["2017.2"]])
    _wait_until_building(farm, "b", on_b, timeout=180)
    image_ids = on_a + on_b

    drained = farm.hosts["a"]
    drained.send_signal(signal.SIGTERM)
    kill_tree(farm.hosts["b"].pid)
    farm.hosts["b"].wait()
    assert drained.wait(timeout=120) == 0, "afs worker did not drain and exit on SIGTERM"
    log = (farm.logs / "farm-host-a.log").read_text()
    assert "drain timeout reached" in log

    for name in HOSTS:
        farm.start_host(name)
    # The lost host's run is crashed when its heartbeats stop; reconcile then ends its image.
    farm.wait(image_ids, set(FINISHED), timeout=400)
    records = [farm.catalog.get(image_id) for image_id in image_ids]
    for record in records:
        if record.status is ImageStatus.ERROR:
            assert cause_of(record.message) is FailureCause.WORKER_CRASHED, record.message
    assert any(record.status is ImageStatus.ERROR for record in records)

    _run_reprocessing(farm)
    farm.wait(image_ids, {ImageStatus.ACTIVE}, timeout=400)
