"""Image statuses, the quota's statuses, and the transitions the catalog allows: plain Python.

The mapping from a Prefect flow-run state to a status is `afs.orchestration.states`.
"""

from __future__ import annotations

from enum import StrEnum


class ImageStatus(StrEnum):
    INITIALING = "initialing"
    SCHEDULING = "scheduling"
    CREATING = "creating"
    # A finished bitstream being registered (the legacy `POST /v1/.../fpga_image`): it is saved
    # into an image file, never built, so it has no statuses of a build in between.
    SAVING = "saving"
    ACTIVE = "active"
    ERROR = "error"
    DELETING = "deleting"


# Statuses that hold the project's one-image-in-creation quota.
IN_CREATION: frozenset[ImageStatus] = frozenset(
    {ImageStatus.INITIALING, ImageStatus.SCHEDULING, ImageStatus.CREATING, ImageStatus.SAVING}
)
FINISHED: frozenset[ImageStatus] = frozenset({ImageStatus.ACTIVE, ImageStatus.ERROR})

# Every status change the catalog accepts, source -> allowed targets. A status may repeat itself
# while unfinished (a newer message or flow run); a finished image only moves on to be deleted, or
# from error back to initialing (saving, a registered one) when reprocessing retries a transient
# cause; a failed delete ends in error.
ALLOWED_TRANSITIONS: dict[ImageStatus, frozenset[ImageStatus]] = {
    ImageStatus.INITIALING: frozenset(
        {ImageStatus.INITIALING, ImageStatus.SCHEDULING, ImageStatus.CREATING, ImageStatus.ERROR}
    ),
    ImageStatus.SCHEDULING: frozenset(
        {ImageStatus.SCHEDULING, ImageStatus.CREATING, ImageStatus.ERROR}
    ),
    # creating -> initialing: a run on a host without the image's tool version hands it back.
    ImageStatus.CREATING: frozenset(
        {
            ImageStatus.INITIALING,
            ImageStatus.SCHEDULING,
            ImageStatus.CREATING,
            ImageStatus.ACTIVE,
            ImageStatus.ERROR,
        }
    ),
    ImageStatus.SAVING: frozenset({ImageStatus.SAVING, ImageStatus.ACTIVE, ImageStatus.ERROR}),
    ImageStatus.ACTIVE: frozenset({ImageStatus.DELETING}),
    ImageStatus.ERROR: frozenset(
        {ImageStatus.DELETING, ImageStatus.INITIALING, ImageStatus.SAVING}
    ),
    ImageStatus.DELETING: frozenset({ImageStatus.DELETING, ImageStatus.ERROR}),
}


def queued_status(registered: bool) -> ImageStatus:
    """The status an image waits in for its run: a registration is saving from the start."""
    return ImageStatus.SAVING if registered else ImageStatus.INITIALING


def can_transition(source: ImageStatus, target: ImageStatus) -> bool:
    """Whether the catalog may move an image from `source` to `target`."""
    return target in ALLOWED_TRANSITIONS[source]


def sources_of(target: ImageStatus) -> frozenset[ImageStatus]:
    """Every status an image may reach `target` from."""
    return frozenset(source for source, targets in ALLOWED_TRANSITIONS.items() if target in targets)
