"""Image statuses: the quota's statuses and the transition table (plain Python, no Prefect)."""

from __future__ import annotations

import pytest

from afs.status import (
    ALLOWED_TRANSITIONS,
    FINISHED,
    IN_CREATION,
    ImageStatus,
    can_transition,
    sources_of,
)

S = ImageStatus


def test_the_transition_table_is_the_documented_one() -> None:
    documented = {
        S.INITIALING: {S.INITIALING, S.SCHEDULING, S.CREATING, S.ERROR},
        S.SCHEDULING: {S.SCHEDULING, S.CREATING, S.ERROR},
        S.CREATING: {S.INITIALING, S.SCHEDULING, S.CREATING, S.ACTIVE, S.ERROR},
        S.SAVING: {S.SAVING, S.ACTIVE, S.ERROR},  # a registration: saved, never built
        S.ACTIVE: {S.DELETING},
        S.ERROR: {S.DELETING, S.INITIALING, S.SAVING},
        S.DELETING: {S.DELETING, S.ERROR},
    }
    assert documented == ALLOWED_TRANSITIONS


@pytest.mark.parametrize("status", list(ImageStatus))
def test_only_unfinished_statuses_may_repeat_themselves(status: ImageStatus) -> None:
    assert can_transition(status, status) is (status not in FINISHED)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.ACTIVE, S.ERROR),  # a late failure hook must not spoil a built image
        (S.ERROR, S.ACTIVE),
        (S.ACTIVE, S.CREATING),
        (S.ERROR, S.CREATING),  # reprocessing goes through the dispatcher (initialing)
        (S.INITIALING, S.ACTIVE),  # only a build (creating) produces an image
        (S.SCHEDULING, S.ACTIVE),
        (S.INITIALING, S.DELETING),  # an image in creation is not deleted under its flow run
        (S.CREATING, S.DELETING),
        (S.DELETING, S.ACTIVE),
        (S.SCHEDULING, S.INITIALING),
        (S.SAVING, S.CREATING),  # a registration never becomes a build, nor a build one
        (S.CREATING, S.SAVING),
        (S.INITIALING, S.SAVING),
    ],
)
def test_forbidden_transitions(source: ImageStatus, target: ImageStatus) -> None:
    assert not can_transition(source, target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.INITIALING, S.SCHEDULING),
        (S.INITIALING, S.CREATING),
        (S.INITIALING, S.ERROR),
        (S.SCHEDULING, S.CREATING),
        (S.CREATING, S.SCHEDULING),  # a retry waits for its next attempt
        (S.CREATING, S.ACTIVE),
        (S.CREATING, S.ERROR),
        (S.CREATING, S.INITIALING),  # handed back: the run's host lacks the tool version
        (S.ACTIVE, S.DELETING),
        (S.ERROR, S.DELETING),
        (S.ERROR, S.INITIALING),  # reprocessing a transient failure
        (S.DELETING, S.ERROR),  # the delete failed
    ],
)
def test_allowed_transitions(source: ImageStatus, target: ImageStatus) -> None:
    assert can_transition(source, target)


def test_every_in_creation_status_may_fail() -> None:
    assert all(can_transition(status, S.ERROR) for status in IN_CREATION)


def test_sources_of_inverts_the_table() -> None:
    assert sources_of(S.ACTIVE) == {S.CREATING, S.SAVING}
    assert sources_of(S.ERROR) == IN_CREATION | {S.DELETING}
    for target in ImageStatus:
        for source in ImageStatus:
            assert (source in sources_of(target)) is can_transition(source, target)
