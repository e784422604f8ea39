"""`afs deploy` (deployments.deploy_factory) on a real Prefect server: the farm's pools, queues,
licence limit, deployments and automations, and nothing twice when applied again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import WorkPoolUpdate
from prefect.client.schemas.objects import ConcurrencyLimitStrategy

from afs.deployments import deploy_factory, factory_job_template
from afs.deployments.automations import (
    MISSED_RUNS_AUTOMATION,
    NEVER_STARTED_AUTOMATION,
    RECONCILE_ON_CRASH_AUTOMATION,
    ZOMBIE_AUTOMATION,
)
from afs.settings import get_settings
from afs.version import factory_version


@pytest.fixture
def client(factory: None) -> Iterator[SyncPrefectClient]:
    """The session's Prefect server, deployed to by the `factory` fixture."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        yield client


def test_builds_have_a_process_pool_with_a_queue_per_tool_version(
    client: SyncPrefectClient,
) -> None:
    pool = client.read_work_pool("fpga-builders")
    queues = {queue.name for queue in client.read_work_queues(work_pool_name="fpga-builders")}

    assert pool.type == "process"
    assert {"vivado-2017.2", "vivado-2017.4.op"} <= queues


def test_each_deployment_says_what_it_is_which_release_and_where_it_runs(
    client: SyncPrefectClient,
) -> None:
    pools = {
        "create-fpga-image/create-fpga-image": "fpga-builders",
        "delete-fpga-image/delete-fpga-image": "afs-maintenance",
        "reconcile-fpga-images/reconcile-fpga-images": "afs-maintenance",
        "reprocess-fpga-images/reprocess-fpga-images": "afs-maintenance",
    }
    for name, pool in pools.items():
        deployment = client.read_deployment_by_name(name)
        assert deployment.description, name
        assert deployment.version == factory_version(), name
        assert deployment.work_pool_name == pool, name
    create = client.read_deployment_by_name("create-fpga-image/create-fpga-image")
    assert create.work_queue_name == "vivado-2017.2", "UI runs land on the first version's queue"
    assert {"image", "project_id", "image_id"} <= set(create.parameter_openapi_schema["properties"])


@pytest.mark.parametrize(
    ("name", "collision"),
    [
        # One started for a crash while another runs waits for it rather than being dropped.
        ("reconcile-fpga-images", ConcurrencyLimitStrategy.ENQUEUE),
        ("reprocess-fpga-images", ConcurrencyLimitStrategy.CANCEL_NEW),
    ],
)
def test_maintenance_runs_never_overlap_themselves_and_run_every_15_minutes(
    client: SyncPrefectClient, name: str, collision: ConcurrencyLimitStrategy
) -> None:
    deployment = client.read_deployment_by_name(f"{name}/{name}")

    assert deployment.global_concurrency_limit is not None
    assert deployment.global_concurrency_limit.limit == 1
    assert deployment.concurrency_options is not None
    assert deployment.concurrency_options.collision_strategy is collision
    assert [schedule.active for schedule in deployment.schedules] == [True]
    assert deployment.schedules[0].schedule.interval == timedelta(minutes=15)


def test_every_run_of_the_pools_sends_heartbeats_and_deploying_restores_the_template(
    client: SyncPrefectClient,
) -> None:
    settings = get_settings()
    for pool in (settings.build_pool, settings.maintenance_pool):
        template = client.read_work_pool(pool).base_job_template
        assert template == factory_job_template(), pool
        environment = template["variables"]["properties"]["env"]["default"]
        assert environment == {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}, pool
    edited = factory_job_template()
    edited["variables"]["properties"]["env"]["default"] = {}  # an edit in the UI
    client.update_work_pool(settings.build_pool, WorkPoolUpdate(base_job_template=edited))
    deploy_factory(settings)
    assert client.read_work_pool(settings.build_pool).base_job_template == factory_job_template()


def test_the_automations_are_there_once_each(client: SyncPrefectClient) -> None:
    automations = (
        ZOMBIE_AUTOMATION,
        NEVER_STARTED_AUTOMATION,
        MISSED_RUNS_AUTOMATION,
        RECONCILE_ON_CRASH_AUTOMATION,
    )
    for name in automations:
        assert len(client.read_automations_by_name(name)) == 1, name
    [on_crash] = client.read_automations_by_name(RECONCILE_ON_CRASH_AUTOMATION)
    reconcile = client.read_deployment_by_name("reconcile-fpga-images/reconcile-fpga-images")
    assert [action.deployment_id for action in on_crash.actions] == [reconcile.id]


def test_deploying_again_updates_the_licence_limit_and_duplicates_nothing(
    client: SyncPrefectClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    queues_before = client.read_work_queues(work_pool_name="fpga-builders")
    monkeypatch.setenv("AFS_VIVADO_LICENCES", "2")
    get_settings.cache_clear()
    try:
        deploy_factory(get_settings())
        assert client.read_global_concurrency_limit_by_name("vivado-licences").limit == 2
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        deploy_factory(get_settings())

    limit = client.read_global_concurrency_limit_by_name("vivado-licences")
    assert (limit.limit, limit.active) == (get_settings().vivado_licences, True)
    queues_after = client.read_work_queues(work_pool_name="fpga-builders")
    assert sorted(q.name for q in queues_after) == sorted(q.name for q in queues_before)
    assert len(client.read_automations_by_name(ZOMBIE_AUTOMATION)) == 1


@pytest.mark.parametrize("name", ["create-fpga-image", "delete-fpga-image"])
def test_every_parameter_of_the_form_explains_itself(client: SyncPrefectClient, name: str) -> None:
    schema = client.read_deployment_by_name(f"{name}/{name}").parameter_openapi_schema
    for parameter, field in schema["properties"].items():
        assert field.get("title"), parameter
        assert field.get("description"), f"{name}: {parameter} has no description"
    if name == "create-fpga-image":
        request = schema["definitions"]["FpgaImageRequest"]["properties"]
        assert all(field.get("examples") for field in request.values()), "an example each"


def test_the_runs_page_has_a_saved_filter_of_image_runs_only(client: SyncPrefectClient) -> None:
    from afs.deployments import IMAGE_RUNS_VIEW

    views = client.request("POST", "/saved_searches/filter", json={}).json()
    [view] = [view for view in views if view["name"] == IMAGE_RUNS_VIEW]
    [flows] = [f["value"] for f in view["filters"] if f["property"] == "flow"]
    names = {client.read_flow(UUID(flow_id)).name for flow_id in flows}
    assert names == {"create-fpga-image", "register-fpga-image", "delete-fpga-image"}, (
        "no maintenance runs in the view"
    )
