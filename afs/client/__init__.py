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
    from afs.client.library import log_tarball_location as log_tarball_location

_LIBRARY_NAMES = frozenset(
    {
        "MAX_LOG_TARBALL_BYTES",
        "ApiError",
        "ApiUnreachable",
        "FactoryClient",
        "FpgaImageNotFound",
        "LogMember",
        "LogTarball",
        "log_tarball_location",
    }
)
__all__ = sorted(_LIBRARY_NAMES)


def __getattr__(name: str) -> Any:
    if name in _LIBRARY_NAMES:
        return getattr(importlib.import_module("afs.client.library"), name)
    raise AttributeError(f"module 'afs.client' has no attribute {name!r}")
