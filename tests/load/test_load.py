"""Load: 200 images for 50 projects through the API, on the embedded stack, every one built.

Each project builds its images one after another (bench.load.build_in_turn): its next create is
sent while the previous image is in creation, must be refused by the quota, and is sent again
once that image has finished.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
from prefect.client.schemas.objects import StateType

from afs.catalog import default_catalog
from afs.client.library import log_tarball_location
from afs.orchestration.naming import image_run_tags
from afs.status import ImageStatus
from bench.load import QUOTA_EXCEEDED, ProjectLoad, push_images, tenants_with_tarball
from tests.factory import Tenant, read_log_tarball, sample_tarball

PROJECTS = 50
IMAGES_PER_PROJECT = 4


def assert_one_after_another(windows: Iterable[tuple[datetime, datetime]], what: str) -> None:
    """Each (start, end) window begins at or after the end of the one before it."""
    ordered = sorted(windows)
    for (_, end), (start, _) in itertools.pairwise(ordered):
        assert start >= end, f"{what}: one began at {start}, before another ended at {end}"


def build_window(project_id: str, image_id: str) -> tuple[datetime, datetime]:
    """When the image's one flow run started and ended; it must have completed."""
    tags = FlowRunFilterTags(all_=image_run_tags(project_id, image_id))
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(tags=tags))
    assert len(runs) == 1, f"image {image_id} has {len(runs)} flow runs"
    run = runs[0]
    assert run.state_type is StateType.COMPLETED, run.state
    start, end = run.start_time, run.end_time
    assert start is not None
    assert end is not None
    return start, end


def check_project(tenant: Tenant, load: ProjectLoad) -> None:
    image_ids = [item.id for item in load.images]
    # Every create after the first went out while the image before it was in creation.
    assert load.refusals == IMAGES_PER_PROJECT - 1, f"{QUOTA_EXCEEDED} refusals"
    assert len(set(image_ids)) == IMAGES_PER_PROJECT
    assert all(item.status is ImageStatus.ACTIVE for item in load.images), load.images

    # None lost, none made twice: the catalog holds exactly these, all active.
    count, records = default_catalog().list_images(tenant.project_id)
    assert count == IMAGES_PER_PROJECT
    assert {record.id for record in records} == set(image_ids)
    assert {record.status for record in records} == {ImageStatus.ACTIVE}
    # The quota's windows, from the accepted create to active (the last update), never overlap.
    windows = [(record.created_at, record.updated_at) for record in records]
    assert_one_after_another(windows, f"project {tenant.project_id} images in creation")

    # One completed run per image, and the runs of one project never overlapped.
    windows = [build_window(tenant.project_id, image_id) for image_id in image_ids]
    assert_one_after_another(windows, f"project {tenant.project_id} build runs")

    for item in load.images:
        bucket, key = log_tarball_location(item)
        assert bucket == tenant.bucket
        assert key.endswith(f"{item.id}_log.tar")
        status = json.loads(read_log_tarball(tenant.get(key))["status.json"])
        assert status["status"] == "active", status


@pytest.mark.slow
@pytest.mark.load
@pytest.mark.timeout(3600)  # 200 builds of about 7 CPU seconds each: 15 to 20 minutes on 2 cores
def test_200_images_for_50_projects_all_end_active_one_build_per_project_at_a_time(
    factory_api: str, s3_endpoint: str, tmp_path: Path
) -> None:
    tenants = tenants_with_tarball(s3_endpoint, PROJECTS, sample_tarball(tmp_path))

    loads = push_images(factory_api, tenants, IMAGES_PER_PROJECT)

    assert [load.project_id for load in loads] == [tenant.project_id for tenant in tenants]
    for tenant, load in zip(tenants, loads, strict=True):
        check_project(tenant, load)
