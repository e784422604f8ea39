"""`afs image ...` as a tenant runs it, keys in the environment, against a served API."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from afs.cli import main
from afs.client.commands import ProgressBar
from afs.client.config import ClientConfig
from afs.devstack.samples import sample_partial_bitstream, write_sample_xclbin, xclbin_file
from afs.inputs.archive import pack
from tests.factory import Tenant, sample_tarball


@pytest.fixture
def tenant_environment(config: ClientConfig, monkeypatch: pytest.MonkeyPatch) -> ClientConfig:
    """The keys a tenant exports before running `afs image`."""
    storage = config.require_storage()
    for name, value in {
        "AFS_API_URL": config.api_url,
        "AFS_ACCESS_KEY": config.access_key,
        "AFS_SECRET_KEY": config.secret_key.get_secret_value(),
        "AFS_PROJECT_ID": config.project_id,
        "AFS_STORAGE_ENDPOINT": storage.endpoint,
        "AFS_STORAGE_ACCESS_KEY": storage.access_key.get_secret_value(),
        "AFS_STORAGE_SECRET_KEY": storage.secret_key.get_secret_value(),
    }.items():
        monkeypatch.setenv(name, value)
    return config


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["image", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_tenant_uploads_builds_lists_shows_and_fetches_the_logs_of_an_image(
    tenant_environment: ClientConfig,
    tenant: Tenant,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tarball = tmp_path / "dcp.tar"
    tarball.write_bytes(sample_tarball(tmp_path))
    location = f"{tenant.bucket}:vu9p/dcp.tar"

    created = run(capsys, "create", "--dcp-file", str(tarball), "--dcp-location", location,
                  "--name", "cli-image", "--log-directory", "vu9p/log", "--wait")  # fmt: skip
    code, out, err = created
    image_id = out.splitlines()[0].split()[1].rstrip(":")
    listed = run(capsys, "list")
    shown = run(capsys, "show", image_id)
    logs = run(capsys, "logs", image_id, "--output", str(tmp_path / "logs"))

    assert code == 0, err
    assert out.splitlines()[0] == f"image {image_id}: initialing"
    assert "status: active" in out.splitlines()
    assert f"log tarball: {tenant.bucket}:vu9p/log/{image_id}_log.tar" in out
    assert f"{image_id}.aei" in out
    assert "dcp.tar [" in err
    assert "100%" in err
    assert listed[0] == 0
    assert image_id in listed[1]
    assert "1 image(s)" in listed[1]
    assert json.loads(shown[1])["status"] == "active"
    assert logs[0] == 0
    assert "status.json" in logs[1]
    assert (tmp_path / "logs" / f"{image_id}_log.tar").exists()


def test_an_api_error_is_one_line_with_the_code_and_exit_status_1(
    tenant_environment: ClientConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "delete", "0" * 32)

    assert code == 1
    assert out == ""
    assert err.startswith("afs image delete: AFS.0002 (HTTP 404): ")
    assert len(err.strip().splitlines()) == 1


def test_a_bad_name_is_refused_before_anything_is_uploaded(
    tenant_environment: ClientConfig,
    tenant: Tenant,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tarball = tmp_path / "dcp.tar"
    tarball.write_bytes(b"x")
    location = f"{tenant.bucket}:vu9p/dcp.tar"

    code, _, err = run(capsys, "create", "--dcp-file", str(tarball), "--dcp-location", location,
                       "--name", "no spaces allowed")  # fmt: skip

    assert code == 2
    assert err.startswith("afs image create: --name: ")
    assert tenant.client.list_objects_v2(Bucket=tenant.bucket)["KeyCount"] == 0


def test_a_dcp_file_that_is_not_there_is_an_input_error_naming_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AFS_API_URL", "http://127.0.0.1:9")  # never reached
    monkeypatch.setenv("AFS_ACCESS_KEY", "ak")
    monkeypatch.setenv("AFS_SECRET_KEY", "sk")
    monkeypatch.setenv("AFS_PROJECT_ID", "a" * 32)
    missing = tmp_path / "no" / "dcp.tar"

    code, out, err = run(capsys, "create", "--dcp-file", str(missing), "--dcp-location",
                         "tenant-bucket:vu9p/dcp.tar", "--name", "first")  # fmt: skip

    assert (code, out) == (2, "")
    assert err.strip() == f"afs image create: --dcp-file {missing}: no such file"


def test_missing_credentials_name_the_variables_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AFS_API_URL", "AFS_ACCESS_KEY", "AFS_SECRET_KEY", "AFS_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AFS_CLIENT_CONFIG", str(tmp_path / "absent.json"))

    code, out, err = run(capsys, "list")

    assert code == 2
    assert out == ""
    assert "AFS_ACCESS_KEY" in err
    assert "AFS_SECRET_KEY" in err


def test_the_progress_bar_ends_full_whatever_the_chunks() -> None:
    stream = io.StringIO()
    bar = ProgressBar("dcp.tar", 3 * 2**20, stream, width=10)

    for _ in range(3):
        bar(2**20)
    bar.close()

    assert stream.getvalue().rsplit("\r", 1)[1] == "dcp.tar [##########] 100% 3.0/3.0 MiB\n"


def test_a_tenant_registers_a_finished_bitstream_which_has_no_log_tarball(
    tenant_environment: ClientConfig,
    tenant: Tenant,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    xclbin = tmp_path / "vadd.xclbin"
    xclbin.write_bytes(xclbin_file(sample_partial_bitstream()))
    location = f"{tenant.bucket}:ocl/vadd.xclbin"

    code, out, err = run(capsys, "register", "--file", str(xclbin), "--location", location,
                         "--name", "ocl-image", "--metadata", '{"shell_type": "OCL"}',
                         "--wait")  # fmt: skip
    image_id = out.splitlines()[0].split()[1].rstrip(":")
    logs = run(capsys, "logs", image_id)

    assert code == 0, err
    assert out.splitlines()[0] == f"image {image_id}: saving"
    assert out.splitlines()[1] == "status: active"
    assert f"{image_id}.aei" in out
    assert "log tarball" not in out
    assert logs == (
        1,
        "",
        f"afs image logs: image {image_id} is a registered bitstream: it has no log tarball\n",
    )


@pytest.mark.parametrize(
    ("metadata", "said"),
    [
        ("{not json", "--metadata: not JSON"),
        ('"a string"', "--metadata: Input should be a valid dictionary"),
        (json.dumps({"k": "v" * 1100}), "--metadata: must be at most 1024 characters as JSON"),
    ],
)
def test_registration_options_are_refused_before_anything_is_uploaded(
    tenant_environment: ClientConfig,
    tenant: Tenant,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    metadata: str,
    said: str,
) -> None:
    data = tmp_path / "fpga.bin"
    data.write_bytes(b"x")
    code, out, err = run(capsys, "register", "--file", str(data), "--location",
                         f"{tenant.bucket}:fpga.bin", "--name", "n", "--metadata",
                         metadata)  # fmt: skip
    assert (code, out) == (2, "")
    assert err.startswith(f"afs image register: {said}"), err
    assert tenant.client.list_objects_v2(Bucket=tenant.bucket)["KeyCount"] == 0


def test_create_with_an_xclbin_writes_the_new_image_id_into_it(
    tenant_environment: ClientConfig,
    tenant: Tenant,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """As the kit's AEI_Register.sh after `fis fpga-image-create` (xclbinaddaei.py)."""
    xclbin = write_sample_xclbin(tmp_path / "vadd.xclbin")
    tarball = tmp_path / "dcp.tar"
    pack(xclbin, tarball, shell_id="0x01210101", tool_version="2017.4.op")
    location = f"{tenant.bucket}:ocl/dcp.tar"

    code, out, err = run(capsys, "create", "--dcp-file", str(tarball), "--dcp-location",
                         location, "--name", "ocl", "--xclbin", str(xclbin))  # fmt: skip

    assert code == 0, err
    image_id = out.splitlines()[0].split()[1].rstrip(":")
    assert xclbin.read_bytes()[416:448] == image_id.encode()
    assert f"{xclbin}: image id written where the FP1 runtime reads it" in out
