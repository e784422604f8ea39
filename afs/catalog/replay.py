"""Replay protection: a signed request that changes something is accepted once.

A signature is valid for as long as its X-Sdk-Date is within the accepted skew, so without this
anyone who captured a create, delete or association request could send it again. Each signature of
such a request is recorded until its date falls out of the window (after which the date check
refuses it anyway); the record lives in the catalog's database, so every API replica sees it.
Reads are not recorded: replaying one only shows its sender what the captured answer showed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from afs.catalog import Catalog
from afs.catalog.schema import used_signatures


class ReplayGuard:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def first_use(
        self, access_key: str, signature: str, expires_at: datetime, now: datetime
    ) -> bool:
        """Record the signature; False if it was recorded before (the request is a replay)."""
        try:
            with self._catalog.write() as connection:
                connection.execute(
                    delete(used_signatures).where(used_signatures.c.expires_at < now)
                )
                connection.execute(
                    insert(used_signatures).values(
                        access_key=access_key, signature=signature, expires_at=expires_at
                    )
                )
        except IntegrityError:
            return False
        return True
