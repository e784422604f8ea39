"""The create-fpga-image flow, run for real against the Prefect server and the S3 server.

Each failure cause is produced by the input a tenant could upload, and read back where the tenant
reads it: the image's message in the catalog and `status.json` in the log tarball.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from pathlib import Path

import pytest

from afs.build.aei import read_aei, read_aei_bitstream
from afs.catalog import QuotaExceeded, default_catalog
from afs.devstack.samples import (
    sample_partial_bitstream,
    write_sample_dcp,
    write_sample_module_dcp,
    write_sample_xclbin,
)
from afs.errors import FailureCause
from afs.files import atomic_write
from afs.flows.create_fpga_image import create_fpga_image
from afs.inputs.archive import pack
from afs.models import ImageRecord
from afs.settings import get_settings
from afs.status import ImageStatus
from afs.tenants import image_store_client
from tests.factory import (
    Tenant,
    json_bytes,
    manifest_for,
    read_log_tarball,
    sample_tarball,
    tarball,
)

DCP_KEY = "vu9p/dcp/design.tar"


def build(tenant: Tenant, data: bytes, **request_fields) -> ImageRecord:
    """Upload `data` as the tenant's tarball, register the image as the API does, run the flow."""
    tenant.put(DCP_KEY, data)
    return build_registered(tenant, **request_fields)


def build_registered(tenant: Tenant, **request_fields) -> ImageRecord:
    """Register the image of the tarball the tenant uploaded as the API does, run the flow."""
    request = tenant.request(DCP_KEY, **request_fields)
    record = default_catalog().register(tenant.project_id, request)
    create_fpga_image(
        image=request, project_id=tenant.project_id, image_id=record.id, return_state=True
    )
    return default_catalog().get(record.id)


def logs_of(tenant: Tenant, record: ImageRecord) -> dict[str, bytes]:
    return read_log_tarball(tenant.get(record.request.log_tarball_key(record.id)))


def assert_failed_with(tenant: Tenant, record: ImageRecord, cause: FailureCause, *words: str):
    assert record.status is ImageStatus.ERROR
    assert record.message.startswith(f"{cause.value}: "), record.message
    for word in words:
        assert word in record.message
    status = json.loads(logs_of(tenant, record)["status.json"])
    assert status == {"image_id": record.id, "status": "error", "message": record.message}


# ---- success ----------------------------------------------------------------------------------


def test_a_good_tarball_becomes_an_active_image_with_its_file_and_logs(
    tenant: Tenant, tmp_path: Path
) -> None:
    record = build(tenant, sample_tarball(tmp_path), log_directory="vu9p/log")

    assert record.status is ImageStatus.ACTIVE, record.message
    assert record.message is None
    assert record.size_mb >= 1
    assert record.attempts == 1
    assert record.flow_run_id
    assert record.metadata["manifest"]["shell_id"] == "0x01010029"
    assert record.metadata["dcp"]["part"] == "xcvu9p-flgb2104-2-i"
    assert "emulat" in record.metadata["toolchain"].lower()

    logs = logs_of(tenant, record)
    assert record.request.log_tarball_key(record.id) == f"vu9p/log/{record.id}_log.tar"
    assert json.loads(logs["status.json"])["status"] == "active"
    assert {"build.tcl", "pipeline.log", "manifest.json", "vivado/vivado.log"} <= set(logs)
    assert any(name.startswith("reports/") for name in logs)
    vivado_log = logs["vivado/vivado.log"]
    assert b"Exiting Vivado" in vivado_log
    assert b"INFO: [Vivado 12-3253] PR_VERIFY: check points " in vivado_log
    assert b"\nwrite_bitstream completed successfully\n" in vivado_log

    bucket, _, key = record.metadata["image_file"].partition(":")
    assert bucket == get_settings().image_store_bucket
    assert key == f"{tenant.project_id}/{record.id}.aei"
    image_path = tmp_path / "image.aei"
    image_store_client(get_settings()).download_file(bucket, key, str(image_path))
    image = read_aei(image_path)
    assert image.metadata["image_id"] == record.id
    assert image.bitstream_length > 0
    # The partial bitstream of the user region (a .bin: no .bit header), as the kit keeps it.
    bitstream = read_aei_bitstream(image_path)
    assert bytes.fromhex("aa995566") in bitstream[:200]
    assert not bitstream.startswith(bytes.fromhex("00090ff0"))


def test_without_a_log_directory_the_logs_land_beside_the_dcp(
    tenant: Tenant, tmp_path: Path
) -> None:
    record = build(tenant, sample_tarball(tmp_path))
    assert record.status is ImageStatus.ACTIVE, record.message
    logs = read_log_tarball(tenant.get(f"vu9p/dcp/{record.id}_log.tar"))
    assert json.loads(logs["status.json"])["status"] == "active"


def test_no_secret_reaches_the_log_tarball_or_the_run_parameters(
    tenant: Tenant, tmp_path: Path
) -> None:
    record = build(tenant, sample_tarball(tmp_path))
    secret = tenant.storage.secret_key.get_secret_value().encode()
    for name, content in logs_of(tenant, record).items():
        assert secret not in content, name
        assert tenant.storage.access_key.get_secret_value().encode() not in content, name


# ---- failures ---------------------------------------------------------------------------------


def test_a_missing_object_is_inaccessible_input(tenant: Tenant) -> None:
    request = tenant.request("vu9p/dcp/absent.tar")
    record = default_catalog().register(tenant.project_id, request)
    create_fpga_image(
        image=request, project_id=tenant.project_id, image_id=record.id, return_state=True
    )
    record = default_catalog().get(record.id)
    assert_failed_with(tenant, record, FailureCause.INACCESSIBLE_INPUT, "absent.tar")


def test_another_projects_bucket_is_refused_and_never_read(
    tenant: Tenant, s3_endpoint: str, tmp_path: Path
) -> None:
    victim = Tenant(s3_endpoint)
    victim.put(DCP_KEY, sample_tarball(tmp_path))
    request = victim.request(DCP_KEY)
    record = default_catalog().register(tenant.project_id, request)
    create_fpga_image(
        image=request, project_id=tenant.project_id, image_id=record.id, return_state=True
    )
    record = default_catalog().get(record.id)
    assert record.status is ImageStatus.ERROR
    assert record.message.startswith("INACCESSIBLE_INPUT: ")
    assert victim.bucket in record.message
    listed = victim.client.list_objects_v2(Bucket=victim.bucket)["Contents"]
    assert [item["Key"] for item in listed] == [DCP_KEY], "nothing was written to the victim"


def _with_symlink(tmp_path: Path) -> bytes:
    buffer = io.BytesIO(sample_tarball(tmp_path))
    with tarfile.open(fileobj=buffer, mode="a") as archive:
        link = tarfile.TarInfo("escape")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    return buffer.getvalue()


def _members(dcp: bytes, **manifest: str) -> bytes:
    return tarball({"d.dcp": dcp, "manifest.json": json_bytes(manifest_for(dcp, **manifest))})


def _sample_dcp(tmp_path: Path, **options: str) -> bytes:
    return write_sample_dcp(tmp_path / "d.dcp", **options).read_bytes()


# One input refused at each stage of the archive check; tests/inputs/test_archive.py holds every
# cause and its every variant without a flow run. Here: each reaches the tenant as its cause,
# in the catalog and in the log tarball's status.json.
@pytest.mark.parametrize(
    ("make_tarball", "cause", "words"),
    [
        (lambda tmp: _with_symlink(tmp), FailureCause.CORRUPT_ARCHIVE, ["escape"]),
        (
            lambda tmp: tarball({"d.dcp": _sample_dcp(tmp)}),
            FailureCause.MANIFEST_NOT_FOUND,
            ["manifest.json"],
        ),
        (
            lambda tmp: _members(_sample_dcp(tmp), pci_device_id="0xZZ"),
            FailureCause.PCIID_SYNTAX_INVALID,
            ["pci_device_id"],
        ),
        (
            lambda tmp: sample_tarball(tmp, dcp_sha256="ab" * 32),
            FailureCause.DCP_INTEGRITY_UNVERIFIED,
            ["ab" * 32],
        ),
        (lambda tmp: _members(b"this is not a zip"), FailureCause.DCP_CORRUPT, ["d.dcp"]),
        (
            lambda tmp: _members(_sample_dcp(tmp, part="xcku115-flvb2104-2-e")),
            FailureCause.PART_MISMATCH,
            ["xcku115-flvb2104-2-e", "xcvu9p-flgb2104-2-i"],
        ),
    ],
    ids=["unsafe-member", "no-manifest", "bad-pci-id", "tampered-sha256", "not-a-zip", "part"],
)
def test_an_input_the_archive_check_refuses_ends_in_its_cause_with_logs(
    tenant: Tenant, tmp_path: Path, make_tarball, cause: FailureCause, words: list[str]
) -> None:
    record = build(tenant, make_tarball(tmp_path))
    assert_failed_with(tenant, record, cause, *words)
    assert not [name for name in logs_of(tenant, record) if name.startswith("vivado/")]


def test_a_module_synthesized_out_of_context_is_refused_before_vivado(
    tenant: Tenant, tmp_path: Path
) -> None:
    dcp = write_sample_module_dcp(tmp_path / "m.dcp").read_bytes()
    members = {"ul_pr_top_post_synth.dcp": dcp, "manifest.json": json_bytes(manifest_for(dcp))}
    record = build(tenant, tarball(members))
    assert_failed_with(
        tenant,
        record,
        FailureCause.DCP_NOT_ROUTED_DESIGN,
        "ul_pr_top_post_synth.dcp is out of context",
        "to_facs/<prj>_routed.dcp",
    )
    assert not [name for name in logs_of(tenant, record) if name.startswith("vivado/")]


def test_a_design_whose_top_is_not_its_shells_is_refused_before_vivado(
    tenant: Tenant, tmp_path: Path
) -> None:
    dcp = write_sample_dcp(tmp_path / "d.dcp", top="my_top").read_bytes()
    members = {"d.dcp": dcp, "manifest.json": json_bytes(manifest_for(dcp))}
    record = build(tenant, tarball(members))
    assert_failed_with(
        tenant, record, FailureCause.DCP_NOT_ROUTED_DESIGN, "'my_top'", "'fp1_shell_top'"
    )
    assert not [name for name in logs_of(tenant, record) if name.startswith("vivado/")]


SDACCEL = {
    "flow_type": "sdaccel",
    "shell_id": "0x01210101",
    "tool_version": "2017.4.op",
    "xclbin_timestamp": "1514764800",
    "clock_freq": "250",
    "clock_freq2": "500",
}


def test_a_design_routed_on_one_shell_and_declared_for_another_fails_pr_verify(
    tenant: Tenant, tmp_path: Path
) -> None:
    dcp = write_sample_dcp(tmp_path / "d.dcp").read_bytes()  # routed on 0x01010029
    members = {"split-primary.dcp": dcp, "manifest.json": json_bytes(manifest_for(dcp, **SDACCEL))}
    record = build(tenant, tarball(members))
    assert_failed_with(tenant, record, FailureCause.PR_VERIFY_FAILED, "Vivado 12-3515")
    assert b"are not compatible" in logs_of(tenant, record)["vivado/vivado.log"]


def test_an_sdaccel_xclbin_packed_as_the_kit_does_is_built_by_vivado_2017_4_op(
    tenant: Tenant, tmp_path: Path
) -> None:
    xclbin = write_sample_xclbin(tmp_path / "vadd.xclbin")
    pack(
        xclbin,
        tmp_path / "dcp.tar",
        shell_id="0x01210101",
        tool_version="2017.4.op",
        kit_flows=get_settings().kit_flows,
    )
    record = build(tenant, (tmp_path / "dcp.tar").read_bytes())
    assert record.status is ImageStatus.ACTIVE, record.message
    manifest = record.metadata["manifest"]
    assert (manifest["flow_type"], manifest["clock_freq"], manifest["clock_freq2"]) == (
        "sdaccel",
        "250",
        "500",
    )
    assert "v2017.4.op" in record.metadata["toolchain"]
    logs = logs_of(tenant, record)
    assert b"PR_VERIFY: check points" in logs["vivado/vivado.log"]
    assert b"are compatible" in logs["vivado/vivado.log"]


def test_a_bitstream_uploaded_in_place_of_the_checkpoint_is_refused_before_vivado(
    tenant: Tenant,
) -> None:
    bitstream = sample_partial_bitstream()
    manifest = json_bytes(manifest_for(bitstream, **SDACCEL))
    record = build(tenant, tarball({"split-primary.dcp": bitstream, "manifest.json": manifest}))
    assert_failed_with(
        tenant, record, FailureCause.DCP_IS_BITSTREAM, "acceleratorBinaryContent=dcp"
    )
    assert not [name for name in logs_of(tenant, record) if name.startswith("vivado/")]


def test_a_timing_violation_in_vivado_names_the_first_error(tenant: Tenant, tmp_path: Path) -> None:
    record = build(tenant, sample_tarball(tmp_path, emulator_fault="timing_violation"))
    assert_failed_with(tenant, record, FailureCause.TIMING_VIOLATION, "ERROR:")
    assert b"ERROR:" in logs_of(tenant, record)["vivado/vivado.log"]


# ---- the run and the catalog ------------------------------------------------------------------


def test_a_failed_image_frees_the_projects_quota(tenant: Tenant, tmp_path: Path) -> None:
    failed = build(tenant, sample_tarball(tmp_path, dcp_sha256="cd" * 32))
    assert failed.status is ImageStatus.ERROR
    assert build(tenant, sample_tarball(tmp_path)).status is ImageStatus.ACTIVE


def test_a_run_from_the_prefect_ui_registers_its_own_image(tenant: Tenant, tmp_path: Path) -> None:
    from prefect import get_client

    tenant.put(DCP_KEY, sample_tarball(tmp_path))
    state = create_fpga_image(
        image=tenant.request(DCP_KEY), project_id=tenant.project_id, return_state=True
    )
    image_id = state.result()
    record = default_catalog().get(image_id)
    assert record.project_id == tenant.project_id
    assert record.status is ImageStatus.ACTIVE, record.message
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(record.flow_run_id)
    assert run.name == f"image-{image_id}"
    assert {f"project:{tenant.project_id}", f"image:{image_id}"} <= set(run.tags)


def test_a_ui_run_is_refused_while_the_project_has_an_image_in_creation(
    tenant: Tenant, tmp_path: Path
) -> None:
    tenant.put(DCP_KEY, sample_tarball(tmp_path))
    waiting = default_catalog().register(tenant.project_id, tenant.request(DCP_KEY))
    state = create_fpga_image(
        image=tenant.request(DCP_KEY), project_id=tenant.project_id, return_state=True
    )
    assert state.is_failed()
    with pytest.raises(QuotaExceeded, match=waiting.id):
        state.result()
    assert default_catalog().list_images(tenant.project_id)[0] == 1


def run_of(state) -> object:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id)


@pytest.mark.parametrize("case", ["unknown-project", "missing-image", "quota-taken"])
def test_bad_form_input_is_refused_saying_why_tagged_and_leaving_no_image(
    tenant: Tenant, tmp_path: Path, case: str
) -> None:
    tenant.put(DCP_KEY, sample_tarball(tmp_path))
    project_id, image_id = tenant.project_id, None
    if case == "unknown-project":
        project_id = uuid.uuid4().hex  # no storage is configured for it
    elif case == "missing-image":
        image_id = uuid.uuid4().hex
    else:
        default_catalog().register(tenant.project_id, tenant.request(DCP_KEY))
    images_before = default_catalog().list_images(project_id)[0]

    state = create_fpga_image(
        image=tenant.request(DCP_KEY), project_id=project_id, image_id=image_id, return_state=True
    )

    assert state.is_failed()
    assert state.message.startswith("refused: "), state.message
    expected = {
        "unknown-project": "no storage",
        "missing-image": f"image {image_id} not found",
        "quota-taken": "already has image",
    }[case]
    assert expected in state.message
    run = run_of(state)
    assert f"project:{project_id}" in run.tags
    if image_id:
        assert f"image:{image_id}" in run.tags
    assert default_catalog().list_images(project_id)[0] == images_before, "no image left behind"


def test_parameters_that_do_not_match_the_catalog_are_refused(
    tenant: Tenant, tmp_path: Path
) -> None:
    tenant.put(DCP_KEY, sample_tarball(tmp_path))
    record = default_catalog().register(tenant.project_id, tenant.request(DCP_KEY))
    other = Tenant(tenant.storage.endpoint)
    state = create_fpga_image(
        image=tenant.request(DCP_KEY),
        project_id=other.project_id,
        image_id=record.id,
        return_state=True,
    )
    assert state.is_failed()
    after = default_catalog().get(record.id)
    # A dispatcher elsewhere in the session may schedule the image; the refused run did nothing.
    assert after.status in {ImageStatus.INITIALING, ImageStatus.SCHEDULING}
    assert (after.attempts, after.message) == (0, None)
    assert after.flow_run_id != str(state.state_details.flow_run_id)


def test_bad_parameters_are_rejected_before_anything_runs(tenant: Tenant) -> None:
    from prefect.exceptions import ParameterTypeError

    with pytest.raises(ParameterTypeError):
        create_fpga_image(
            image={"dcp_location": "Bad:x.tar", "name": "n"}, project_id=tenant.project_id
        )


def test_running_a_finished_image_again_changes_nothing(tenant: Tenant, tmp_path: Path) -> None:
    failed = build(tenant, sample_tarball(tmp_path, dcp_sha256="ef" * 32))
    state = create_fpga_image(
        image=failed.request, project_id=tenant.project_id, image_id=failed.id, return_state=True
    )
    assert state.is_failed()
    after = default_catalog().get(failed.id)
    assert (after.status, after.message, after.attempts) == (
        failed.status,
        failed.message,
        failed.attempts,
    )


# ---- failures outside the tarball -------------------------------------------------------------


@pytest.fixture
def setting(monkeypatch: pytest.MonkeyPatch):
    """Change one AFS_ setting for this test."""

    def change(name: str, value: str) -> None:
        monkeypatch.setenv(f"AFS_{name.upper()}", value)
        get_settings.cache_clear()

    yield change
    monkeypatch.undo()
    get_settings.cache_clear()


def test_an_object_over_the_size_limit_is_an_illegal_input_size(
    tenant: Tenant, tmp_path: Path, setting
) -> None:
    data = sample_tarball(tmp_path)
    setting("max_tarball_bytes", str(len(data) - 1))
    record = build(tenant, data)
    assert_failed_with(tenant, record, FailureCause.INPUT_SIZE_ILLEGAL, str(len(data) - 1))


def test_an_unreachable_object_store_is_storage_unavailable(
    s3_endpoint: str, factory: None, tmp_path: Path
) -> None:
    from afs.devstack.localstack import free_port
    from afs.tenants import save_tenant

    tenant = Tenant(s3_endpoint)
    tenant.put(DCP_KEY, sample_tarball(tmp_path))
    unreachable = tenant.storage.model_copy(update={"endpoint": f"http://127.0.0.1:{free_port()}"})
    save_tenant(get_settings(), tenant.project_id, unreachable)
    request = tenant.request(DCP_KEY)
    image = default_catalog().register(tenant.project_id, request)

    create_fpga_image(
        image=request, project_id=tenant.project_id, image_id=image.id, return_state=True
    )

    record = default_catalog().get(image.id)
    assert record.status is ImageStatus.ERROR
    assert record.message.startswith("STORAGE_UNAVAILABLE: "), record.message
    assert tenant.bucket in record.message


def test_a_missing_shell_checkpoint_is_the_factorys_internal_error(
    tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shell allowed in this process's settings but never installed; the installed shells that
    # other processes of the session read stay as they are.
    pairing = {"flow_type": "vivado", "shell_id": "0x0badbeef", "tool_version": "2017.2"}
    flows = [flow.model_dump() for flow in get_settings().kit_flows]
    monkeypatch.setenv("AFS_KIT_FLOWS", json.dumps([*flows, pairing]))
    get_settings.cache_clear()
    try:
        record = build(tenant, sample_tarball(tmp_path, shell_id="0x0badbeef"))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert_failed_with(tenant, record, FailureCause.INTERNAL_ERROR, "0x0badbeef")


def test_a_store_that_stops_answering_for_a_while_is_tried_again_within_the_run(
    s3_endpoint: str, factory: None, tmp_path: Path, setting
) -> None:
    import threading
    import time

    setting("storage_max_attempts", "1")  # no retry in the storage client: the step's own retry

    from afs.tenants import save_tenant
    from tests.faults.proxy import FaultMode, FaultProxy

    tenant = Tenant(s3_endpoint)
    tenant.put(DCP_KEY, sample_tarball(tmp_path))
    with FaultProxy(s3_endpoint, mode=FaultMode.UNAVAILABLE) as proxy:
        save_tenant(
            get_settings(),
            tenant.project_id,
            tenant.storage.model_copy(update={"endpoint": proxy.url}),
        )

        def answer_again_after_two_failed_tries() -> None:
            while proxy.requests[FaultMode.UNAVAILABLE] < 2:
                time.sleep(0.05)
            proxy.mode = FaultMode.PASS

        back = threading.Thread(target=answer_again_after_two_failed_tries, daemon=True)
        back.start()
        record = build_registered(tenant)
        back.join()

    assert record.status is ImageStatus.ACTIVE, record.message
    assert record.attempts == 1, "the step was retried, not the build"


def test_a_good_build_whose_logs_cannot_be_delivered_fails_and_leaves_no_image_file(
    tenant: Tenant, tmp_path: Path
) -> None:
    import threading
    import time

    from tests.factory import build_processes

    tenant.put(DCP_KEY, sample_tarball(tmp_path, emulator_fault="slow:4"))
    request = tenant.request(DCP_KEY)
    image = default_catalog().register(tenant.project_id, request)

    def remove_the_bucket_while_vivado_runs() -> None:
        deadline = time.monotonic() + 60
        while not build_processes(image.id) and time.monotonic() < deadline:
            time.sleep(0.1)
        tenant.client.delete_object(Bucket=tenant.bucket, Key=DCP_KEY)
        tenant.client.delete_bucket(Bucket=tenant.bucket)

    saboteur = threading.Thread(target=remove_the_bucket_while_vivado_runs)
    saboteur.start()
    create_fpga_image(
        image=request, project_id=tenant.project_id, image_id=image.id, return_state=True
    )
    saboteur.join()

    record = default_catalog().get(image.id)
    assert record.status is ImageStatus.ERROR
    assert record.message.startswith("LOG_UPLOAD_FAILED: "), record.message
    stored = image_store_client(get_settings()).list_objects_v2(
        Bucket=get_settings().image_store_bucket, Prefix=f"{tenant.project_id}/"
    )
    assert stored.get("KeyCount", 0) == 0, "the image file of an image that failed is removed"


def test_a_broken_storage_configuration_never_shows_its_keys(
    s3_endpoint: str, factory: None, tmp_path: Path
) -> None:
    import json as json_module

    tenant = Tenant(s3_endpoint)
    tenant.put(DCP_KEY, sample_tarball(tmp_path))
    path = get_settings().tenants_path
    entries = json_module.loads(path.read_text())
    del entries[tenant.project_id]["buckets"]
    with atomic_write(path) as out:  # other processes of the session read the file meanwhile
        out.write(json_module.dumps(entries).encode())
    request = tenant.request(DCP_KEY)
    image = default_catalog().register(tenant.project_id, request)

    create_fpga_image(
        image=request, project_id=tenant.project_id, image_id=image.id, return_state=True
    )

    record = default_catalog().get(image.id)
    assert record.message.startswith("INACCESSIBLE_INPUT: "), record.message
    assert "is invalid" in record.message
    for secret in (tenant.storage.access_key, tenant.storage.secret_key):
        assert secret.get_secret_value()[:6] not in record.message


def test_every_run_is_named_and_tagged_after_its_image_and_project(
    tenant: Tenant, tmp_path: Path
) -> None:
    from prefect import get_client

    record = build(tenant, sample_tarball(tmp_path))
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(record.flow_run_id)
    assert run.name == f"image-{record.id}"
    assert {f"project:{tenant.project_id}", f"image:{record.id}"} <= set(run.tags)


# ---- the factory's own faults, retries and cancels ----------------------------------------------


def run_log_of(flow_run_id: str) -> str:
    from afs.orchestration.runlog import read_run_log

    return "\n".join(read_run_log(flow_run_id))


def run_of_image(record: ImageRecord):
    from uuid import UUID

    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(record.flow_run_id))


def raw_run_log(flow_run_id: str) -> list[str]:
    """Every record Prefect kept for the run, whole (as the UI shows it)."""
    from uuid import UUID

    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)
    only_this_run = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(flow_run_id)]))
    with get_client(sync_client=True) as client:
        return [record.message for record in client.read_logs(log_filter=only_this_run)]


@pytest.mark.parametrize("internal", [False, True])
def test_a_failed_image_reads_as_a_failure_with_no_traceback_in_its_runs_log(
    tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, internal: bool
) -> None:
    """A tenant's cause, or the factory's own fault: the run's log says what failed, once per
    step, and keeps the traceback of neither (the operators' log has the factory's)."""
    if internal:

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("a bug")

        monkeypatch.setattr("afs.build.steps.check_tarball", broken)
        data = sample_tarball(tmp_path)
    else:
        data = b"not a tar at all"
    record = build(tenant, data)

    cause = FailureCause.INTERNAL_ERROR if internal else FailureCause.CORRUPT_ARCHIVE
    assert_failed_with(tenant, record, cause)
    run = run_of_image(record)
    assert (run.state.type.value, run.state.message) == ("FAILED", record.message)
    messages = raw_run_log(record.flow_run_id)
    assert any(cause.value in message for message in messages)
    assert not [message for message in messages if "Traceback" in message]


def test_an_unexpected_exception_shows_its_type_but_never_its_text(
    tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "AKIA-SECRET-in-/etc/afs/keys"

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(secret)

    monkeypatch.setattr("afs.build.steps.check_tarball", broken)
    record = build(tenant, sample_tarball(tmp_path))

    assert_failed_with(tenant, record, FailureCause.INTERNAL_ERROR, "RuntimeError")
    assert secret not in record.message
    pipeline_log = logs_of(tenant, record)["pipeline.log"].decode()
    assert "RuntimeError" in pipeline_log
    assert secret not in pipeline_log
    assert "Traceback" not in pipeline_log, "tracebacks are for the operators"
    assert secret not in run_log_of(record.flow_run_id), "nor does Prefect keep it for the run"


def test_an_image_that_cannot_become_active_has_no_file_and_logs_that_say_error(
    tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def catalog_gone(*args: object, **kwargs: object) -> None:
        raise ConnectionError("catalog gone")

    monkeypatch.setattr("afs.catalog.store.Catalog.mark_active", catalog_gone)
    record = build(tenant, sample_tarball(tmp_path))

    assert_failed_with(tenant, record, FailureCause.INTERNAL_ERROR, "ConnectionError")
    stored = image_store_client(get_settings()).list_objects_v2(
        Bucket=get_settings().image_store_bucket, Prefix=f"{tenant.project_id}/"
    )
    assert stored.get("KeyCount", 0) == 0, "the image file of an image that failed is removed"


def test_a_ui_run_retried_in_the_ui_never_registers_a_second_image(
    tenant: Tenant, tmp_path: Path
) -> None:
    from prefect import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Scheduled

    tenant.put(DCP_KEY, sample_tarball(tmp_path, dcp_sha256="ab" * 32))
    parameters = {"image": tenant.request(DCP_KEY), "project_id": tenant.project_id}
    first = create_fpga_image(**parameters, return_state=True)
    run_id = first.state_details.flow_run_id
    [image] = default_catalog().list_images(tenant.project_id)[1]
    assert image.message.startswith("DCP_INTEGRITY_UNVERIFIED: ")

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run_id, Scheduled(), force=True)
        retried = run_flow(
            create_fpga_image,
            flow_run=client.read_flow_run(run_id),
            parameters=parameters,
            return_type="state",
        )
        run = client.read_flow_run(run_id)

    assert retried.is_failed()
    assert "not awaiting a build" in retried.message
    assert default_catalog().list_images(tenant.project_id)[0] == 1
    assert default_catalog().get(image.id).message == image.message, "the image keeps its cause"
    assert [tag for tag in run.tags if tag.startswith("image:")] == [f"image:{image.id}"]


def test_a_cancel_recorded_by_the_cancellation_hook_ends_the_image_cancelled_with_logs(
    tenant: Tenant, tmp_path: Path
) -> None:
    """Prefect calls on_cancellation with the CANCELLING state, e.g. when it stops a run whose
    build had not started, or whose process outlived the grace period and was killed."""
    import uuid

    from prefect.client.schemas.objects import FlowRun
    from prefect.states import Cancelling

    from afs.orchestration.hooks import record_cancellation

    tenant.put(DCP_KEY, sample_tarball(tmp_path))
    image = default_catalog().register(tenant.project_id, tenant.request(DCP_KEY))
    run = FlowRun(
        id=uuid.uuid4(),
        flow_id=uuid.uuid4(),
        parameters={"project_id": tenant.project_id, "image_id": image.id},
    )
    default_catalog().record_attempt(image.id, str(run.id))

    record_cancellation(flow=create_fpga_image, flow_run=run, state=Cancelling())

    record = default_catalog().get(image.id)
    assert_failed_with(tenant, record, FailureCause.CANCELLED)


@pytest.mark.parametrize("from_the_form", [False, True])
def test_a_run_on_a_host_without_its_vivado_hands_the_image_back(
    tenant: Tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, from_the_form: bool
) -> None:
    """The tenant is never failed for where a run landed: the image goes back to the dispatcher,
    which starts its build on the queue of its tool version."""
    from afs.settings import emulator_binary

    tenant.put(DCP_KEY, sample_tarball(tmp_path, flow="sdaccel"))
    request = tenant.request(DCP_KEY)
    image_id = None if from_the_form else default_catalog().register(tenant.project_id, request).id
    monkeypatch.setenv("AFS_VIVADO_BINARIES", json.dumps({"2017.2": emulator_binary()}))
    get_settings.cache_clear()
    try:
        state = create_fpga_image(
            image=request, project_id=tenant.project_id, image_id=image_id, return_state=True
        )
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()

    assert state.is_completed()
    assert "no Vivado 2017.4.op" in state.message
    assert "queue vivado-2017.4.op" in state.message
    record = default_catalog().get(image_id or state.result())
    assert (record.status, record.flow_run_id, record.attempts, record.requeues) == (
        ImageStatus.INITIALING,
        None,
        0,
        1,
    )
    listed = tenant.client.list_objects_v2(
        Bucket=tenant.bucket, Prefix=record.request.log_tarball_key(record.id)
    )
    assert not listed.get("Contents"), "no log tarball: the image has not finished"
    # Out of the outbox again: no dispatcher of this test session is to build it.
    default_catalog().set_status(record.id, ImageStatus.ERROR, message="CANCELLED: test over")


def artifacts_of(image_id: str) -> dict[str, object]:
    """The image's artifacts by key, as the Artifacts page lists them."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    keys = [f"image-{image_id}{suffix}" for suffix in ("", "-steps", "-logs", "-progress")]
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys))
        )
    return {artifact.key: artifact for artifact in found}


def test_a_built_image_publishes_its_summary_steps_logs_and_progress(
    tenant: Tenant, tmp_path: Path
) -> None:
    record = build(tenant, sample_tarball(tmp_path), log_directory="vu9p/log")
    assert record.status is ImageStatus.ACTIVE, record.message

    artifacts = artifacts_of(record.id)

    summary = artifacts[f"image-{record.id}"]
    assert summary.type == "markdown"
    for expected in (
        "**Built**",
        f"- DCP tarball: `{tenant.bucket}:{DCP_KEY}`",
        "- shell_id: `0x01010029`",
        "- part: `xcvu9p-flgb2104-2-i`",
        "- DCP sha256 matches the manifest",
        "worst setup slack (WNS)",
        "| CLB LUTs |",
        f"- log tarball: `{tenant.bucket}:vu9p/log/{record.id}_log.tar`",
        f"- image file: `{record.metadata['image_file']}`",
    ):
        assert expected in summary.data, expected
    steps = artifacts[f"image-{record.id}-steps"]
    assert steps.type == "table"
    assert [row["step"] for row in json.loads(steps.data)] == [
        "fetch-dcp", "check-archive", "render-tcl", "run-vivado", "upload-image", "upload-logs"
    ]  # fmt: skip
    assert artifacts[f"image-{record.id}-logs"].type == "markdown"  # a link is markdown
    progress = artifacts[f"image-{record.id}-progress"]
    assert (progress.type, progress.data) == ("progress", 100.0)


def test_a_failed_image_summary_leads_with_its_cause(tenant: Tenant) -> None:
    record = build(tenant, b"not a tar at all")

    summary = artifacts_of(record.id)[f"image-{record.id}"]

    assert summary.data.splitlines()[2].startswith("**Failed: CORRUPT_ARCHIVE** — ")
    assert summary.description == record.message
