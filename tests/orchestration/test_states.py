"""The Prefect state mapping, checked against the README's "Image statuses" table."""

from __future__ import annotations

from prefect.client.schemas.objects import StateType

from afs.orchestration.states import image_status_for
from afs.status import FINISHED, IN_CREATION, ImageStatus

S = ImageStatus

# The README's table, written out again so the code is checked against the document, not itself:
# (a build's status, a registration's status).
DESIGN_TABLE: dict[str, tuple[ImageStatus, ImageStatus]] = {
    "SCHEDULED": (S.SCHEDULING, S.SAVING),
    "PENDING": (S.SCHEDULING, S.SAVING),
    "PAUSED": (S.SCHEDULING, S.SAVING),
    "RUNNING": (S.CREATING, S.SAVING),
    "CANCELLING": (S.CREATING, S.SAVING),
    "COMPLETED": (S.ACTIVE, S.ACTIVE),
    "FAILED": (S.ERROR, S.ERROR),
    "CRASHED": (S.ERROR, S.ERROR),
    "CANCELLED": (S.ERROR, S.ERROR),
}


def test_every_prefect_state_type_maps_to_the_design_table_status() -> None:
    # Iterates Prefect's own enum: a state type added by a Prefect upgrade fails here.
    for state_type in list(StateType):
        assert state_type.name in DESIGN_TABLE, f"the README has no status for {state_type}"
        built, registered = DESIGN_TABLE[state_type.name]
        assert image_status_for(state_type) is built, state_type
        assert image_status_for(state_type, registered=True) is registered, state_type


def test_the_design_table_names_only_real_state_types() -> None:
    assert set(DESIGN_TABLE) == {state_type.name for state_type in StateType}


def test_a_terminal_prefect_state_never_leaves_the_quota_held() -> None:
    terminal = (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED)
    for state_type in terminal:
        for registered in (False, True):
            assert image_status_for(state_type, registered) in FINISHED
            assert image_status_for(state_type, registered) not in IN_CREATION
