"""Image statuses, the quota's statuses, and the transitions the catalog allows: plain Python.

The mapping from a Prefect flow-run state to a status is `afs.orchestration.states`.
"""

from __future__ import annotations

from enum import StrEnum


class ImageStatus(StrEnum):
    INITIALING = "initialing"
    SCHEDULING = "scheduling"
    CREATING = "creating"
    ACTIVE = "active"
    ERROR = "error"
    DELETING = "deleting"


# Statuses that hold the project's one-image-in-creation quota.
IN_CREATION: frozenset[ImageStatus] = frozenset(
    {ImageStatus.INITIALING, ImageStatus.SCHEDULING, ImageStatus.CREATING}
)
FINISHED: frozenset[ImageStatus] = frozenset({ImageStatus.ACTIVE, ImageStatus.ERROR})

# Every status change the catalog accepts, source -> allowed targets. A status may repeat itself
# while unfinished (a newer message or flow run); a finished image only moves on to be deleted, or
# from error back to initialing when reprocessing retries a transient cause; a failed delete ends
# in error.
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
    ImageStatus.ACTIVE: frozenset({ImageStatus.DELETING}),
    ImageStatus.ERROR: frozenset({ImageStatus.DELETING, ImageStatus.INITIALING}),
    ImageStatus.DELETING: frozenset({ImageStatus.DELETING, ImageStatus.ERROR}),
}


def can_transition(source: ImageStatus, target: ImageStatus) -> bool:
    """Whether the catalog may move an image from `source` to `target`."""
    return target in ALLOWED_TRANSITIONS[source]


def sources_of(target: ImageStatus) -> frozenset[ImageStatus]:
    """Every status an image may reach `target` from."""
    return frozenset(source for source, targets in ALLOWED_TRANSITIONS.items() if target in targets)
