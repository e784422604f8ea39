"""`python -m afs.devstack.screenshots`: the README's pictures of the Prefect UI, taken of one
image built on the embedded stack: its run, its summary artifact, and the deployment's form."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from afs.catalog import default_catalog
from afs.client import FactoryClient
from afs.devstack.browser import ensure_cjk_font, screenshot
from afs.devstack.demo import create_demo_tenant, write_sample_tarballs
from afs.devstack.embedded import embedded_stack
from afs.models import FpgaImageRequest
from afs.orchestration.artifacts import summary_artifact_id

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _ids(image_id: str) -> tuple[str, str, str]:
    """The image's flow run, its summary artifact and the create deployment."""
    from prefect import get_client

    from afs.deployments import CREATE_DEPLOYMENT_PATH

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(CREATE_DEPLOYMENT_PATH)
    run_id = default_catalog().get(image_id).flow_run_id
    return str(run_id), summary_artifact_id(image_id), str(deployment.id)


def main() -> int:
    ensure_cjk_font()
    with (
        tempfile.TemporaryDirectory(prefix="afs-screenshots-") as home,
        embedded_stack(Path(home)) as stack,
    ):
        config = create_demo_tenant(stack)
        request = FpgaImageRequest(
            dcp_location="afs-demo-tenant:vu9p/sample-dcp.tar",
            name="screenshot-demo",
            log_directory="vu9p/log",
        )
        with FactoryClient(config) as client:
            client.upload(write_sample_tarballs(Path(home))["vivado"], request.dcp_location)
            image = client.wait(client.create(request).id, interval=0.5, timeout=300)
        run_id, artifact_id, deployment_id = _ids(image.id)
        ui = stack.prefect_ui_url
        pages = {
            "run.png": f"{ui}/runs/flow-run/{run_id}",
            "summary.png": f"{ui}/artifacts/artifact/{artifact_id}",
            "form.png": f"{ui}/deployments/deployment/{deployment_id}/run",
        }
        for name, url in pages.items():
            print(screenshot(url, SCREENSHOTS / name, height=1400))
    return 0


if __name__ == "__main__":
    sys.exit(main())
