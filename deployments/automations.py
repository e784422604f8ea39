"""Automations the factory needs on its Prefect server, created by the factory's own set-up.

A worker that dies (OOM killer, lost host) runs no hook and leaves its run `Running` for ever.
Flow runs send heartbeats (the pools' job template sets their frequency); the zombie automation
marks a run that stopped sending them `Crashed`. A run whose worker died while starting it sends
no heartbeat at all: it stays Pending, and the never-started automation crashes it instead. An
image run that crashes, either way or any other, starts the reconcile deployment at once, which
turns its image to `error` (WORKER_CRASHED) and frees the quota; the reconcile schedule is only
the safety net.

While no maintenance worker is up, every scheduled reconcile and reprocess run goes Late; the
missed-runs automation cancels each as it does, so a returning worker finds no backlog to work
through, only the next run on time. A reconcile started for a crash is not scheduled: it waits
for a worker, and runs when one is back.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from prefect.automations import Automation
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState, RunDeployment
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

from afs.flows.create_fpga_image import create_fpga_image
from afs.flows.delete_fpga_image import delete_fpga_image
from afs.flows.reconcile import reconcile_fpga_images
from afs.flows.register_fpga_image import register_fpga_image
from afs.flows.reprocess import reprocess_fpga_images
from afs.settings import Settings

HEARTBEAT_SECONDS = 30  # PREFECT_FLOWS_HEARTBEAT_FREQUENCY of every build run (Prefect's minimum)
ZOMBIE_AUTOMATION = "afs: crash flow runs whose heartbeats stopped"
NEVER_STARTED_AUTOMATION = "afs: crash flow runs whose worker died starting them"
MISSED_RUNS_AUTOMATION = "afs: cancel maintenance runs that missed their time"
RECONCILE_ON_CRASH_AUTOMATION = "afs: reconcile when an image run crashes"
_IMAGE_FLOWS = [create_fpga_image.name, register_fpga_image.name, delete_fpga_image.name]
_MAINTENANCE_FLOWS = [reconcile_fpga_images.name, reprocess_fpga_images.name]
# Prefect's scheduler tags each run it makes from a schedule.
_SCHEDULED = ResourceSpecification({"prefect.resource.id": "prefect.tag.auto-scheduled"})
# Only the factory's runs: other flows on the server keep their own rules. Maintenance runs are
# watched too: a reconcile lost with its host would hold its deployment's one concurrency slot,
# and every later reconcile would be cancelled as colliding with it.
_FACTORY_RUNS = ResourceSpecification(
    {"prefect.resource.role": "flow", "prefect.resource.name": _IMAGE_FLOWS + _MAINTENANCE_FLOWS}
)


_ENDED = {
    "prefect.flow-run.Completed",
    "prefect.flow-run.Failed",
    "prefect.flow-run.Cancelled",
    "prefect.flow-run.Crashed",
}


def _crash_when_silent(
    name: str, description: str, after_event: str, expect: set[str], within: timedelta, why: str
) -> Automation:
    """Crash a factory run that, after `after_event`, sent none of `expect` for `within`."""
    return Automation(
        name=name,
        description=description,
        trigger=EventTrigger(
            after={after_event},
            expect=expect,
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            match_related=_FACTORY_RUNS,
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=within,
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, message=why)],
    )


def zombie_automation(after: timedelta) -> Automation:
    """Crash a run that sent no heartbeat for `after` (the setting AFS_ZOMBIE_AFTER_SECONDS)."""
    return _crash_when_silent(
        ZOMBIE_AUTOMATION,
        "Marks factory runs Crashed when their worker died; reconcile frees the quota.",
        "prefect.flow-run.heartbeat",
        {"prefect.flow-run.heartbeat", *_ENDED},
        after,
        f"no heartbeat for {after.total_seconds():g} s: the worker died",
    )


def never_started_automation(after: timedelta) -> Automation:
    """Crash a run that went Pending (a worker took it) but never started running within
    `after`: its worker died before the run's process did, and no heartbeat will ever come."""
    return _crash_when_silent(
        NEVER_STARTED_AUTOMATION,
        "Marks factory runs Crashed when their worker died while starting them.",
        "prefect.flow-run.Pending",
        {"prefect.flow-run.Running", "prefect.flow-run.Scheduled", *_ENDED},
        after,
        f"not started {after.total_seconds():g} s after a worker took it: the worker died",
    )


def missed_runs_automation() -> Automation:
    """Cancel a scheduled reconcile or reprocess run as soon as it is Late (no maintenance worker
    took it on time): the next scheduled run does the same work."""
    return Automation(
        name=MISSED_RUNS_AUTOMATION,
        description="No backlog of maintenance runs piles up while no worker is up.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Late"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            match_related=[
                ResourceSpecification(
                    {"prefect.resource.role": "flow", "prefect.resource.name": _MAINTENANCE_FLOWS}
                ),
                _SCHEDULED,
            ],
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CANCELLED,
                message="missed its time while no maintenance worker was up; the next run "
                "does its work",
            )
        ],
    )


def reconcile_on_crash_automation(reconcile_deployment_id: UUID) -> Automation:
    """Start reconcile as soon as an image run crashes (its worker died, the zombie automation
    found it silent): its image ends WORKER_CRASHED and its quota is free within a minute."""
    return Automation(
        name=RECONCILE_ON_CRASH_AUTOMATION,
        description="Lost image runs are brought in line at once; the schedule is a safety net.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Crashed"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            match_related=ResourceSpecification(
                {"prefect.resource.role": "flow", "prefect.resource.name": _IMAGE_FLOWS}
            ),
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[RunDeployment(source="selected", deployment_id=reconcile_deployment_id)],
    )


def ensure_automations(settings: Settings, reconcile_deployment_id: UUID) -> None:
    """Create the factory's automations on the current Prefect server, or bring them up to date
    (a new release, a changed threshold)."""
    from prefect import get_client

    after = timedelta(seconds=settings.zombie_after_seconds)
    wanted = [
        zombie_automation(after),
        never_started_automation(after),
        missed_runs_automation(),
        reconcile_on_crash_automation(reconcile_deployment_id),
    ]
    with get_client(sync_client=True) as client:
        for automation in wanted:
            existing = client.read_automations_by_name(automation.name)
            if not existing:
                automation.create()
            elif not same_rule(existing[0], automation):
                # An update resets the trigger's open expectations (a run whose host died before
                # it would never be crashed), so only a changed rule is written.
                client.update_automation(existing[0].id, automation)


def same_rule(stored: Automation, wanted: Automation) -> bool:
    def rule(automation: Automation) -> dict[str, object]:
        dumped = automation.model_dump(mode="json", include={"description", "trigger", "actions"})
        trigger = dumped["trigger"]
        trigger.pop("id", None)  # a new trigger id each time it is built
        # Sets of events, dumped as lists in whatever order this process's hash seed gives.
        for field in ("after", "expect", "for_each"):
            trigger[field] = sorted(trigger.get(field) or [])
        return dumped

    return rule(stored) == rule(wanted)
