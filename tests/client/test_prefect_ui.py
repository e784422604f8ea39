"""The Prefect UI, in a real browser (headless Chromium), shows an image's run and its summary."""

from __future__ import annotations

import os

import pytest

from afs.catalog import default_catalog
from afs.client import FactoryClient
from afs.devstack.browser import chromium, page_dom
from afs.orchestration.artifacts import summary_artifact_id
from afs.status import ImageStatus
from tests.factory import Tenant, sample_tarball

pytestmark = pytest.mark.slow

DCP_KEY = "vu9p/ui.tar"


@pytest.fixture(scope="module")
def browser() -> str:
    """Chromium from the distribution's packages, installed now if this machine lacks it."""
    return chromium()


def test_the_run_page_and_the_summary_artifact_show_in_a_browser(
    browser: str, client: FactoryClient, tenant: Tenant, tmp_path
) -> None:
    tenant.put(DCP_KEY, sample_tarball(tmp_path))
    created = client.create(tenant.request(DCP_KEY))
    item = client.wait(created.id, interval=0.5, timeout=300)
    assert item.status is ImageStatus.ACTIVE, item.message
    run_id = default_catalog().get(created.id).flow_run_id
    ui = os.environ["PREFECT_API_URL"].removesuffix("/api")

    run_page = page_dom(f"{ui}/runs/flow-run/{run_id}")
    artifact_page = page_dom(f"{ui}/artifacts/artifact/{summary_artifact_id(created.id)}")

    assert f"image-{created.id}" in run_page, "the run is named after its image"
    assert f"Image {created.id}" in artifact_page, "the summary's heading"
    assert "Where it landed" in artifact_page
    assert f"{created.id}_log.tar" in artifact_page
