"""The tenant's client: the typed library of the API, its `afs image` commands, its configuration.

It shares only the wire format (`afs.wire`) with the server: it imports neither the API, the
catalog nor Prefect. The library's names are importable from here, loaded on first use, so that
`afs --help` and `afs pack` load no more than they use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what __getattr__ loads, as the type checker should see it
    from afs.client.library import MAX_LOG_TARBALL_BYTES as MAX_LOG_TARBALL_BYTES
    from afs.client.library import ApiError as ApiError
    from afs.client.library import ApiUnreachable as ApiUnreachable
    from afs.client.library import FactoryClient as FactoryClient
    from afs.client.library import FpgaImageNotFound as FpgaImageNotFound
    from afs.client.library import LogMember as LogMember
    from afs.client.library import LogTarball as LogTarball
    from afs.client.library import NoLogTarball as NoLogTarball
    from afs.client.library import WaitTimedOut as WaitTimedOut
    from afs.client.library import log_tarball_location as log_tarball_location


def __getattr__(name: str) -> Any:
    """The library's public names (listed above for the type checker), loaded on first use."""
    if not name.startswith("_"):
        library = importlib.import_module("afs.client.library")
        if hasattr(library, name):
            return getattr(library, name)
    raise AttributeError(f"module 'afs.client' has no attribute {name!r}")
