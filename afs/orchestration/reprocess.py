"""Scheduled reprocessing: images that failed for a reason outside the tenant's input go again.

Only the causes in afs.errors.RETRIED_CAUSES qualify, each with its own bound on builds; a bad
tarball fails the same way every time, so it is never retried.
"""

from __future__ import annotations

from afs.catalog import Catalog, QuotaExceeded
from afs.errors import RETRIED_CAUSES
from afs.models import ImageRecord


def _retryable(catalog: Catalog, max_attempts: int) -> list[ImageRecord]:
    """The failed images with builds left, per cause, oldest first."""
    codes_by_bound: dict[int, list[str]] = {}
    for cause, bound in RETRIED_CAUSES.items():
        limit = max_attempts if bound is None else min(bound, max_attempts)
        codes_by_bound.setdefault(limit, []).append(cause.value)
    records = [
        record
        for limit, codes in codes_by_bound.items()
        for record in catalog.retryable_failures(codes, max_attempts=limit)
    ]
    return sorted(records, key=lambda record: (record.updated_at, record.id))


def requeue_transient_failures(catalog: Catalog, *, max_attempts: int) -> list[str]:
    """Put qualifying images back to the dispatcher (`initialing`; a registration, `saving`);
    returns their ids."""
    requeued = []
    for record in _retryable(catalog, max_attempts):
        try:
            updated = catalog.requeue(record.id)
        except QuotaExceeded:
            continue  # the project has started another image meanwhile; try again next time
        if updated is not None:
            requeued.append(record.id)
    return requeued
