"""Scheduled reprocessing: images that failed for a reason outside the tenant's input go again.

Only transient causes qualify (afs.errors.TRANSIENT_CAUSES); a bad tarball fails the same way
every time, so it is never retried. Each image gets at most `max_attempts` builds.
"""

from __future__ import annotations

from afs.catalog import Catalog, QuotaExceeded
from afs.errors import TRANSIENT_CAUSES
from afs.status import ImageStatus


def requeue_transient_failures(catalog: Catalog, *, max_attempts: int) -> list[str]:
    """Put qualifying images back to `initialing` for the dispatcher; returns their ids."""
    requeued = []
    transient = [cause.value for cause in TRANSIENT_CAUSES]
    for record in catalog.retryable_failures(transient, max_attempts=max_attempts):
        try:
            updated = catalog.set_status(
                record.id, ImageStatus.INITIALING, only_from={ImageStatus.ERROR}
            )
        except QuotaExceeded:
            continue  # the project has started another image meanwhile; try again next time
        if updated is not None:
            requeued.append(record.id)
    return requeued
