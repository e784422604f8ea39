"""The factory's Prefect set-up as data, applied by one command (`afs deploy`): work pools and
their queues, the licence limit, the deployments and the automations.

Builds go to the process pool `fpga-builders`, one queue per tool version, so only a host with
that Vivado takes a run, and registrations of finished bitstreams to its packaging queue, which
every host serves; reconcile, reprocess and delete go to `afs-maintenance` and never wait
behind a four-hour build. Applying it again is safe: it only brings the server up to date.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
    WorkPoolCreate,
    WorkPoolUpdate,
)
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.workers.process import ProcessWorker

from afs.deployments.automations import HEARTBEAT_SECONDS
from afs.flows.create_fpga_image import create_fpga_image
from afs.flows.delete_fpga_image import delete_fpga_image
from afs.flows.reconcile import reconcile_fpga_images
from afs.flows.register_fpga_image import register_fpga_image
from afs.flows.reprocess import reprocess_fpga_images
from afs.orchestration.farm import (
    LICENCE_LIMIT,
    PACKAGING_QUEUE,
    build_queues,
    default_build_queue,
)
from afs.orchestration.prefect_internals import save_flow_runs_view
from afs.settings import Settings
from afs.version import factory_version

CREATE_DEPLOYMENT = "create-fpga-image"
CREATE_DEPLOYMENT_PATH = f"{create_fpga_image.name}/{CREATE_DEPLOYMENT}"
REGISTER_DEPLOYMENT = "register-fpga-image"
REGISTER_DEPLOYMENT_PATH = f"{register_fpga_image.name}/{REGISTER_DEPLOYMENT}"
DELETE_DEPLOYMENT = "delete-fpga-image"
DELETE_DEPLOYMENT_PATH = f"{delete_fpga_image.name}/{DELETE_DEPLOYMENT}"
RECONCILE_DEPLOYMENT = "reconcile-fpga-images"
REPROCESS_DEPLOYMENT = "reprocess-fpga-images"
# Reconcile starts when an image run crashes (automation); the schedule is the safety net.
RECONCILE_EVERY = timedelta(minutes=15)
REPROCESS_EVERY = timedelta(minutes=15)
MAINTENANCE_TAG = "maintenance"
# What every factory run needs from its environment, set by the pools' job template.
RUN_ENVIRONMENT = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS)}

# A reprocess run that finds the last one still going is cancelled, not queued behind it; a
# reconcile run waits, since one started for a crash may come while another is half-way through.
_ONE_AT_A_TIME = ConcurrencyLimitConfig(
    limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
)
_ONE_AFTER_ANOTHER = ConcurrencyLimitConfig(
    limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE
)


def factory_deployments(settings: Settings) -> list[RunnerDeployment]:
    """The five deployments, each on its pool (see the module docstring)."""
    version = factory_version()
    maintenance = {
        "work_pool_name": settings.maintenance_pool,
        "version": version,
        "entrypoint_type": EntrypointType.MODULE_PATH,
    }
    return [
        create_fpga_image.to_deployment(
            CREATE_DEPLOYMENT,
            description="Build one FPGA image. Leave image_id empty to register a new image. "
            "The API's dispatcher puts each run on the queue of its tool version; a run from "
            "this form starts on the first version's queue and moves if it must.",
            work_pool_name=settings.build_pool,
            work_queue_name=default_build_queue(settings),
            version=version,
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
        register_fpga_image.to_deployment(
            REGISTER_DEPLOYMENT,
            description="Save a finished bitstream (.bin, or an .xclbin holding one) as an "
            "image, with no build: the legacy register, started by the API's dispatcher.",
            work_pool_name=settings.build_pool,
            work_queue_name=PACKAGING_QUEUE,
            version=version,
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
        delete_fpga_image.to_deployment(
            DELETE_DEPLOYMENT,
            description="Remove an image marked deleting (started by the dispatcher).",
            **maintenance,
        ),
        reconcile_fpga_images.to_deployment(
            RECONCILE_DEPLOYMENT,
            description="Bring the catalog in line with the flow runs: ended runs whose image "
            "was not finished (a dead worker, a lost hook) end that image and free its quota. "
            "Started when an image run crashes, and every 15 minutes; deletes maintenance runs "
            "older than AFS_MAINTENANCE_RUN_RETENTION_DAYS.",
            interval=RECONCILE_EVERY,
            concurrency_limit=_ONE_AFTER_ANOTHER,
            tags=[MAINTENANCE_TAG],
            **maintenance,
        ),
        reprocess_fpga_images.to_deployment(
            REPROCESS_DEPLOYMENT,
            description="Requeue images that failed for a transient cause (storage, a lost "
            "worker, the factory's own fault) while they have builds left.",
            interval=REPROCESS_EVERY,
            concurrency_limit=_ONE_AT_A_TIME,
            tags=[MAINTENANCE_TAG],
            **maintenance,
        ),
    ]


def factory_job_template() -> dict[str, Any]:
    """The base job template of the factory's process pools: Prefect's own, with the environment
    every factory run needs whichever worker starts it. A plain `prefect worker start --pool
    fpga-builders` is then as safe as `afs worker`: its runs send the heartbeats the zombie
    automation watches."""
    template = ProcessWorker.get_default_base_job_template()
    environment = template["variables"]["properties"]["env"]
    environment["default"] = dict(RUN_ENVIRONMENT)
    environment["description"] += (
        " The factory's runs need PREFECT_FLOWS_HEARTBEAT_FREQUENCY: the automation that finds "
        "runs lost with their host watches those heartbeats (`afs deploy` sets it again)."
    )
    return template


def _ensure_pool(client: SyncPrefectClient, name: str, description: str, queues: list[str]) -> None:
    template = factory_job_template()
    try:
        pool = client.read_work_pool(name)
    except ObjectNotFound:
        client.create_work_pool(
            WorkPoolCreate(
                name=name,
                type=ProcessWorker.type,
                description=description,
                base_job_template=template,
            )
        )
    else:
        if pool.base_job_template != template:  # a new release, or an edit in the UI
            client.update_work_pool(name, WorkPoolUpdate(base_job_template=template))
    for queue in queues:
        with contextlib.suppress(ObjectAlreadyExists):
            client.create_work_queue(name=queue, work_pool_name=name)


def _ensure_licence_limit(client: SyncPrefectClient, licences: int) -> None:
    try:
        current = client.read_global_concurrency_limit_by_name(LICENCE_LIMIT)
    except ObjectNotFound:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=LICENCE_LIMIT, limit=licences)
        )
        return
    if current.limit != licences or not current.active:
        client.update_global_concurrency_limit(
            LICENCE_LIMIT, GlobalConcurrencyLimitUpdate(limit=licences, active=True)
        )


IMAGE_RUNS_VIEW = "FPGA image runs"


def _ensure_image_runs_view(client: SyncPrefectClient) -> None:
    """A saved filter of the UI's Runs page showing image runs only (create, register, delete),
    not the maintenance runs; a person sets it as their default there."""
    image_flows = (create_fpga_image, register_fpga_image, delete_fpga_image)
    flows = [client.read_flow_by_name(flow.name) for flow in image_flows]
    save_flow_runs_view(client, IMAGE_RUNS_VIEW, [flow.id for flow in flows])


def deploy_factory(settings: Settings) -> list[str]:
    """Create or update everything on the current Prefect server; the deployments' names."""
    from prefect import get_client

    from afs.deployments.automations import ensure_automations

    with get_client(sync_client=True) as client:
        _ensure_pool(
            client,
            settings.build_pool,
            "FPGA image builds: one queue per Vivado tool version, one worker per build host; "
            f"registrations of finished bitstreams, on {PACKAGING_QUEUE}, need no Vivado",
            [*build_queues(settings.tool_versions), PACKAGING_QUEUE],
        )
        _ensure_pool(
            client,
            settings.maintenance_pool,
            "The factory's reconcile, reprocess and delete runs",
            ["default"],
        )
        _ensure_licence_limit(client, settings.vivado_licences)
    names = []
    for deployment in factory_deployments(settings):
        deployment.apply()
        names.append(deployment.full_name)
    with get_client(sync_client=True) as client:
        _ensure_image_runs_view(client)
    with get_client(sync_client=True) as client:
        reconcile = client.read_deployment_by_name(
            f"{reconcile_fpga_images.name}/{RECONCILE_DEPLOYMENT}"
        )
    ensure_automations(settings, reconcile.id)
    return names
