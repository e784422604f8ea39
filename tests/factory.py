"""Test helpers: tenants with their own buckets, tenant tarballs good and bad, image submission."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

from afs import storage
from afs.devstack.samples import (
    SDACCEL_SHELL_ID,
    SDACCEL_TOOL_VERSION,
    sample_pblock_xdc,
    write_sample_dcp,
    write_sample_module_dcp,
    write_sample_shell_dcp,
    write_sample_xclbin,
)
from afs.inputs.archive import pack
from afs.models import FpgaImageRequest
from afs.settings import emulator_binary, get_settings
from afs.tenants import TenantStorage, save_tenant, tenant_client


class Tenant:
    """A project with its own bucket on the test S3 server."""

    def __init__(self, endpoint: str) -> None:
        self.project_id = uuid.uuid4().hex
        self.bucket = f"tenant-{self.project_id[:12]}"
        self.storage = TenantStorage(
            endpoint=endpoint,
            access_key=f"ak-{self.project_id[:8]}",
            secret_key=f"sk-{self.project_id}",
            buckets=[self.bucket],
        )
        save_tenant(get_settings(), self.project_id, self.storage)
        self.client = tenant_client(get_settings(), self.storage)
        storage.ensure_bucket(self.client, self.bucket)

    def put(self, key: str, data: bytes) -> str:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        return f"{self.bucket}:{key}"

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def request(self, key: str, **fields: Any) -> FpgaImageRequest:
        return FpgaImageRequest(dcp_location=f"{self.bucket}:{key}", name="test-image", **fields)


def sample_tarball(
    tmp_path: Path, *, emulator_fault: str | None = None, flow: str = "vivado", **pack_options
) -> bytes:
    """A tenant tarball as `afs pack` makes it: of the vivado flow, the whole design routed on
    shell 0x01010029; of the sdaccel flow, an xclbin whose checkpoint is routed on 0x01210101.

    `pack_options` may tamper with it (declaring another shell, say).
    """
    out = tmp_path / "dcp.tar"
    if flow == "sdaccel":
        routed = write_sample_dcp(
            tmp_path / "routed.dcp", shell_id=SDACCEL_SHELL_ID, emulator_fault=emulator_fault
        )
        source = write_sample_xclbin(tmp_path / "vadd.xclbin", primary=routed.read_bytes())
        options = {"shell_id": SDACCEL_SHELL_ID, "tool_version": SDACCEL_TOOL_VERSION}
    else:
        source = write_sample_dcp(tmp_path / "ul_pr_top_routed.dcp", emulator_fault=emulator_fault)
        options = {"shell_id": "0x01010029", "tool_version": "2017.2"}
    pack(source, out, **{**options, **pack_options})
    return out.read_bytes()


KIT_TENANT_FLOW = Path(__file__).parent / "build" / "vivado" / "kit" / "build_routed.tcl"


def run_kit_tenant_flow(work: Path, shell_id: str) -> subprocess.CompletedProcess[str]:
    """The tenant's side without Vivado: the kit's implementation run, through the emulator.

    Lays out the kit's `lib/` with the sample shell of `shell_id` and `pr_pblock.xdc`, a
    synthesized module, and writes `work/to_facs/ul_pr_top_routed.dcp`.
    """
    lib = work / "lib"
    (lib / "checkpoints").mkdir(parents=True)
    (lib / "constraints").mkdir()
    (work / "to_facs").mkdir()
    write_sample_shell_dcp(lib / "checkpoints" / "SH_UL_BB_routed.dcp", shell_id)
    (lib / "constraints" / "pr_pblock.xdc").write_text(sample_pblock_xdc())
    write_sample_module_dcp(work / "ul_pr_top_post_synth.dcp")
    return subprocess.run(
        [
            emulator_binary(), "-mode", "batch", "-source", str(KIT_TENANT_FLOW), "-notrace",
            "-tclargs", "lib", "ul_pr_top_post_synth.dcp", "to_facs", "ul_pr_top",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip


def manifest_for(dcp: bytes, **overrides: str) -> dict[str, str]:
    return {
        "version": "2.0",
        "fpga_board": "vu9p_vb",
        "fpga_vendor": "xilinx",
        "fpga_chip": "vu9p",
        "bitstream_format": "bin",
        "flow_type": "vivado",
        "shell_id": "0x01010029",
        "pci_vendor_id": "0x19e5",
        "pci_device_id": "0xD503",
        "pci_subsystem_id": "0x4341",
        "pci_subsystem_vendor_id": "0x19e5",
        "hdk_version": "v1.2.1",
        "tool_version": "2017.2",
        "create_time": "2026-11-27 10:00:00",
        "dcp_sha256": hashlib.sha256(dcp).hexdigest(),
        **overrides,
    }


def tarball(members: dict[str, bytes]) -> bytes:
    """A plain tar of regular files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


def read_log_tarball(data: bytes) -> dict[str, bytes]:
    """{name without the top directory: content} of a log tarball."""
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {
            member.name.split("/", 1)[1]: archive.extractfile(member).read()
            for member in archive.getmembers()
            if member.isfile()
        }


def discard_waiting_runs() -> int:
    """Delete the flow runs still waiting on the test Prefect server.

    Tests that create images through the API leave runs queued for deployments nobody serves;
    a worker started later must not spend its time on them.
    """
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    waiting_types = FlowRunFilterStateType(any_=[StateType.SCHEDULED, StateType.PENDING])
    waiting = FlowRunFilter(state=FlowRunFilterState(type=waiting_types))
    discarded = 0
    with get_client(sync_client=True) as client:
        while runs := client.read_flow_runs(flow_run_filter=waiting, limit=200):
            for run in runs:
                client.delete_flow_run(run.id)
            discarded += len(runs)
    return discarded


def settle_undispatched_images() -> None:
    """Fail the images other tests left awaiting a dispatcher, and drop the deletes they left.

    The session's API runs no dispatcher, so those images wait for ever; a package that starts a
    dispatcher and a worker must not spend them on images that were never meant to be built.
    """
    from afs.catalog import default_catalog

    catalog = default_catalog()
    for image in catalog.awaiting_dispatch(limit=100_000):
        catalog.mark_error(image.id, "INTERNAL_ERROR: left by another test, never built")
    for image in catalog.awaiting_delete(limit=100_000):
        catalog.delete(image.id)


def processes_mentioning(*texts: str) -> list[int]:
    """Pids of live processes whose command line contains every one of `texts`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes()
        except OSError:
            continue  # the process ended while we looked
        if all(text.encode() in command for text in texts):
            found.append(int(cmdline.parent.name))
    return found


def process_tree(pid: int) -> list[int]:
    """`pid` and every process below it, in whatever session (flow runs start their own)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parents[int(stat.parent.name)] = int(stat.read_text().rpartition(")")[2].split()[1])
    tree = [pid]
    for member in tree:
        tree.extend(child for child, parent in parents.items() if parent == member)
    return tree


def kill_tree(pid: int) -> None:
    """A lost host: the process `pid` and everything below it, SIGKILLed at once."""
    for member in process_tree(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)


def build_processes(image_id: str) -> list[int]:
    """Pids of the Vivado processes building `image_id` (its script is in the image's workspace)."""
    return processes_mentioning(f"/{image_id}/", "build.tcl")


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])


def build_owner(image_id: str) -> int:
    """The pid of the flow run's process that started the build of `image_id`."""
    build = build_processes(image_id)
    return next(parent_of(pid) for pid in build if parent_of(pid) not in build)


def _vivado_log_written(image_id: str) -> bool:
    """Whether Vivado (not only its supervisor) runs for `image_id` and has opened its `-log`."""
    for pid in build_processes(image_id):
        try:
            arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # ended while we looked
        if b"-log" in arguments:
            log = arguments[arguments.index(b"-log") + 1].decode()
            if Path(log).is_file():
                return True
    return False


def wait_for_vivado(image_id: str, timeout: float = 120) -> None:
    """Until Vivado runs for `image_id`, its log begun, and Prefect holds the run's log of the
    steps before it."""
    from afs.catalog import default_catalog
    from afs.orchestration.runlog import read_run_log

    deadline = time.monotonic() + timeout
    while True:
        run_id = default_catalog().get(image_id).flow_run_id
        logs = "\n".join(read_run_log(run_id)) if run_id else ""
        if _vivado_log_written(image_id) and "fetched" in logs and "DCP " in logs:
            return
        assert time.monotonic() < deadline, "vivado never started"
        time.sleep(0.5)


def assert_build_processes_end(image_id: str, within: float = 10) -> None:
    """However its build ended, no Vivado process of `image_id` outlives it by `within` s."""
    deadline = time.monotonic() + within
    while build_processes(image_id):
        assert time.monotonic() < deadline, f"vivado outlived its build by {within:g} s"
        time.sleep(0.2)
