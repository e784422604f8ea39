"""What a flow run is called in the UI's Runs list, set from inside the run."""

from __future__ import annotations

from collections.abc import Iterable


def name_this_run(name: str, tags: Iterable[str] = ()) -> None:
    """Rename the flow run this code runs in, adding `tags` to the ones it has."""
    from prefect import get_client
    from prefect.runtime import flow_run

    with get_client(sync_client=True) as client:
        client.update_flow_run(flow_run.id, name=name, tags=sorted({*flow_run.tags, *tags}))
