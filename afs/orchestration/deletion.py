"""Deleting an image: its file leaves the image store, then its record leaves the catalog.

The API only marks the image `deleting` (the outbox); the dispatcher starts a delete run, which
calls this. Both steps are idempotent, so a retried run finishes what an interrupted one began.
"""

from __future__ import annotations

from afs.build.steps import delete_image_file
from afs.catalog import Catalog, ImageNotFound
from afs.errors import AfsError
from afs.models import IMAGE_FILE_KEY
from afs.settings import Settings
from afs.status import ImageStatus


class NotDeleting(AfsError):
    """The image is not marked for deletion: nothing is removed."""


def delete_image(catalog: Catalog, settings: Settings, image_id: str) -> bool:
    """Remove the image's file and record; False if the record was gone already."""
    try:
        record = catalog.get(image_id)
    except ImageNotFound:
        return False
    if record.status is not ImageStatus.DELETING:
        raise NotDeleting(f"image {image_id} is {record.status.value}, not deleting")
    location = record.metadata.get(IMAGE_FILE_KEY)
    if location:
        delete_image_file(settings, location)
    try:
        catalog.delete(image_id)
    except ImageNotFound:
        return False
    return True
