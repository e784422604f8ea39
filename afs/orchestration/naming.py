"""What an image's flow run is called and tagged in the UI's Runs list: one owner for the
dispatcher, the flows' own names and the renaming a run does once it knows its image."""

from __future__ import annotations

from collections.abc import Iterable


def image_run_name(image_id: str) -> str:
    return f"image-{image_id}"


def image_run_tags(project_id: str, image_id: str | None = None) -> list[str]:
    """The tags a person filters the Runs page by; a run refused before it has an image carries
    its project's alone."""
    return [f"project:{project_id}", *([f"image:{image_id}"] if image_id else [])]


def name_this_run(name: str, tags: Iterable[str] = ()) -> None:
    """Rename the flow run this code runs in, adding `tags` to the ones it has."""
    from prefect import get_client
    from prefect.runtime import flow_run

    with get_client(sync_client=True) as client:
        client.update_flow_run(flow_run.id, name=name, tags=sorted({*flow_run.tags, *tags}))


def name_this_image_run(project_id: str, image_id: str) -> None:
    """However the run was started (a run from the UI learns its image id only when it has
    registered it), it is named and tagged as the dispatcher names and tags its runs."""
    name_this_run(image_run_name(image_id), image_run_tags(project_id, image_id))
