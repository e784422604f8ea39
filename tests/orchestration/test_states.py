"""The Prefect state mapping, checked against DESIGN.md's "Image status" table."""

from __future__ import annotations

from prefect.client.schemas.objects import StateType

from afs.orchestration.states import image_status_for
from afs.status import FINISHED, IN_CREATION, ImageStatus

S = ImageStatus

# DESIGN.md's table, written out again so the code is checked against the document, not itself.
DESIGN_TABLE: dict[str, ImageStatus] = {
    "SCHEDULED": S.SCHEDULING,
    "PENDING": S.SCHEDULING,
    "PAUSED": S.SCHEDULING,
    "RUNNING": S.CREATING,
    "CANCELLING": S.CREATING,
    "COMPLETED": S.ACTIVE,
    "FAILED": S.ERROR,
    "CRASHED": S.ERROR,
    "CANCELLED": S.ERROR,
}


def test_every_prefect_state_type_maps_to_the_design_table_status() -> None:
    # Iterates Prefect's own enum: a state type added by a Prefect upgrade fails here.
    for state_type in list(StateType):
        assert state_type.name in DESIGN_TABLE, f"DESIGN.md has no status for {state_type}"
        assert image_status_for(state_type) is DESIGN_TABLE[state_type.name], state_type


def test_the_design_table_names_only_real_state_types() -> None:
    assert set(DESIGN_TABLE) == {state_type.name for state_type in StateType}


def test_a_terminal_prefect_state_never_leaves_the_quota_held() -> None:
    terminal = (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED)
    for state_type in terminal:
        assert image_status_for(state_type) in FINISHED
        assert image_status_for(state_type) not in IN_CREATION
