"""The factory's automations, as Prefect's server evaluates them: the zombie rule crashes only
the factory's runs; the missed-runs rule cancels only its late scheduled maintenance runs; a
crashed image run starts reconcile."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prefect.server.events.schemas.automations import EventTrigger
from prefect.server.events.schemas.events import ReceivedEvent

from afs.deployments.automations import (
    missed_runs_automation,
    never_started_automation,
    reconcile_on_crash_automation,
    zombie_automation,
)


def _tag(name: str) -> dict[str, str]:
    return {"prefect.resource.id": f"prefect.tag.{name}", "prefect.resource.role": "tag"}


def heartbeat_of(
    flow_name: str, event: str = "prefect.flow-run.heartbeat", tags: tuple[str, ...] = ()
) -> ReceivedEvent:
    """An event of a run of `flow_name`, related to its flow and its tags as Prefect relates
    them."""
    return ReceivedEvent(
        occurred=datetime.now(UTC),
        event=event,
        resource={"prefect.resource.id": f"prefect.flow-run.{uuid.uuid4()}"},
        related=[
            {
                "prefect.resource.id": f"prefect.flow.{uuid.uuid4()}",
                "prefect.resource.role": "flow",
                "prefect.resource.name": flow_name,
            },
            *(_tag(name) for name in tags),
        ],
        id=uuid.uuid4(),
    )


@pytest.fixture
def trigger() -> EventTrigger:
    definition = zombie_automation(timedelta(seconds=90)).trigger.model_dump()
    return EventTrigger.model_validate(definition)


@pytest.mark.parametrize(
    "flow_name",
    [
        "create-fpga-image",
        "register-fpga-image",
        "delete-fpga-image",
        # A lost reconcile would hold its deployment's one slot: every later one is cancelled.
        "reconcile-fpga-images",
        "reprocess-fpga-images",
    ],
)
def test_a_factory_runs_heartbeat_is_watched(trigger: EventTrigger, flow_name: str) -> None:
    assert trigger.covers(heartbeat_of(flow_name))


def test_other_runs_on_the_server_are_left_alone(trigger: EventTrigger) -> None:
    assert not trigger.covers(heartbeat_of("someone-elses-etl"))


@pytest.mark.parametrize(
    ("flow_name", "cancelled"),
    [
        ("reconcile-fpga-images", True),
        ("reprocess-fpga-images", True),
        ("create-fpga-image", False),  # a late build waits for a host; it is never dropped
        ("someone-elses-etl", False),
    ],
)
def test_only_late_scheduled_maintenance_runs_are_cancelled(
    flow_name: str, cancelled: bool
) -> None:
    definition = missed_runs_automation().trigger.model_dump()
    trigger = EventTrigger.model_validate(definition)
    scheduled = ("auto-scheduled", "maintenance")
    assert trigger.covers(heartbeat_of(flow_name, "prefect.flow-run.Late", scheduled)) is cancelled
    assert not trigger.covers(heartbeat_of(flow_name, "prefect.flow-run.Running", scheduled))
    # A reconcile started for a crash waits for a worker to come back instead.
    assert not trigger.covers(heartbeat_of(flow_name, "prefect.flow-run.Late", ("maintenance",)))


@pytest.mark.parametrize(
    ("flow_name", "reconciled"),
    [
        ("create-fpga-image", True),
        ("register-fpga-image", True),
        ("delete-fpga-image", True),
        ("reconcile-fpga-images", False),  # a crashed reconcile is no image run to reconcile
        ("someone-elses-etl", False),
    ],
)
def test_a_crashed_image_run_starts_reconcile_at_once(flow_name: str, reconciled: bool) -> None:
    deployment_id = uuid.uuid4()
    automation = reconcile_on_crash_automation(deployment_id)
    trigger = EventTrigger.model_validate(automation.trigger.model_dump())
    assert trigger.covers(heartbeat_of(flow_name, "prefect.flow-run.Crashed")) is reconciled
    assert not trigger.covers(heartbeat_of(flow_name, "prefect.flow-run.Failed"))
    assert trigger.immediate
    [action] = automation.actions
    assert (action.type, action.deployment_id) == ("run-deployment", deployment_id)


def test_setting_up_again_leaves_an_unchanged_automation_and_its_open_expectations_alone(
    prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect import get_client

    from afs.deployments.automations import ZOMBIE_AUTOMATION, ensure_automations, same_rule
    from afs.settings import get_settings

    def stored() -> object:
        with get_client(sync_client=True) as client:
            [automation] = client.read_automations_by_name(ZOMBIE_AUTOMATION)
        return automation

    ensure_automations(get_settings(), uuid.UUID(int=1))
    wanted = zombie_automation(timedelta(seconds=get_settings().zombie_after_seconds))
    assert same_rule(stored(), wanted), "as stored, the rule reads as unchanged: no update"

    monkeypatch.setenv("AFS_ZOMBIE_AFTER_SECONDS", "600")
    get_settings.cache_clear()
    try:
        ensure_automations(get_settings(), uuid.UUID(int=1))
        assert stored().trigger.within == timedelta(seconds=600)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        ensure_automations(get_settings(), uuid.UUID(int=1))


@pytest.mark.parametrize(
    ("flow_name", "watched"),
    [("create-fpga-image", True), ("reconcile-fpga-images", True), ("someone-elses-etl", False)],
)
def test_a_run_a_worker_took_is_watched_until_it_starts(flow_name: str, watched: bool) -> None:
    definition = never_started_automation(timedelta(seconds=90)).trigger.model_dump()
    trigger = EventTrigger.model_validate(definition)
    assert trigger.covers(heartbeat_of(flow_name, "prefect.flow-run.Pending")) is watched
