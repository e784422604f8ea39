"""What the routes work with, built once per app and reached through one dependency."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from afs.catalog import Catalog
from afs.catalog.credentials import CredentialStore
from afs.catalog.replay import ReplayGuard
from afs.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    catalog: Catalog
    credentials: CredentialStore
    replays: ReplayGuard


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
