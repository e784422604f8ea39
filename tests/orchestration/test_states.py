"""The Prefect state mapping, checked against the table of docs/architecture.md."""

from __future__ import annotations

from pathlib import Path

from prefect.client.schemas.objects import StateType

from afs.orchestration.states import image_status_for
from afs.status import FINISHED, IN_CREATION, ImageStatus

ARCHITECTURE = Path(__file__).parents[2] / "docs" / "architecture.md"


def _design_table() -> dict[str, tuple[ImageStatus, ImageStatus]]:
    """docs/architecture.md's table, read from the document so that the code is checked against
    it: {state type: (a build's status, a registration's status)}."""
    text = ARCHITECTURE.read_text()
    section = text.split("## Statuses and Prefect's states", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ")]
    return {
        state.strip(): (ImageStatus(built.strip()), ImageStatus(registered.strip()))
        for state, built, registered in rows[1:]  # after the header row
    }


ARCHITECTURE_TABLE = _design_table()


def test_every_prefect_state_type_maps_to_the_design_table_status() -> None:
    # Iterates Prefect's own enum: a state type added by a Prefect upgrade fails here.
    for state_type in list(StateType):
        assert state_type.name in ARCHITECTURE_TABLE, f"the design has no status for {state_type}"
        built, registered = ARCHITECTURE_TABLE[state_type.name]
        assert image_status_for(state_type) is built, state_type
        assert image_status_for(state_type, registered=True) is registered, state_type


def test_the_design_table_names_only_real_state_types() -> None:
    assert set(ARCHITECTURE_TABLE) == {state_type.name for state_type in StateType}


def test_a_terminal_prefect_state_never_leaves_the_quota_held() -> None:
    terminal = (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED)
    for state_type in terminal:
        for registered in (False, True):
            assert image_status_for(state_type, registered) in FINISHED
            assert image_status_for(state_type, registered) not in IN_CREATION
