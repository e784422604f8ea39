"""API access keys: each pair (AK/SK) is bound to one project.

The secret key must be recoverable to check HMAC signatures, so it is stored encrypted (Fernet)
beside the catalog, and the encryption key lives in a file of mode 0600 that every API replica
shares. Secrets never reach a log: the models hold them as SecretStr.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import string
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from pydantic import BaseModel, SecretStr
from sqlalchemy import insert, select

from afs.catalog import Catalog
from afs.catalog.schema import access_keys
from afs.errors import ConfigurationError
from afs.settings import Settings

_ALPHANUMERIC = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits
KEY_CACHE_SECONDS = 60.0


class CredentialKeyError(ConfigurationError):
    """The encryption key file is unusable (readable by others, or not the key of the store)."""


class AccessKey(BaseModel):
    """One access key as the API checks signatures with it."""

    access_key: str
    secret_key: SecretStr
    project_id: str


class NewAccessKey(BaseModel):
    """What `afs credentials create` prints, once: the only time the secret is shown."""

    access_key: str
    secret_key: str
    project_id: str


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def load_or_create_key(path: Path) -> Fernet:
    """The Fernet key in `path`, created (mode 0600) if absent; refused if others may read it."""
    if not path.exists():
        _create_key(path)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise CredentialKeyError(f"{path} must be readable by its owner only (mode {mode:o})")
    try:
        return Fernet(path.read_bytes().strip())
    except ValueError:
        raise CredentialKeyError(f"{path} does not hold a Fernet key") from None


def _create_key(path: Path) -> None:
    """A new key at `path`, unless another process puts its own there first.

    Replicas start together: the key is written whole to a private temporary file (mkstemp makes
    it mode 0600), then linked to `path`, which fails if another process linked its key first.
    So `path` only ever holds a complete key, and never changes once there (which is why
    afs.files.atomic_write, which replaces the file, does not fit).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(Fernet.generate_key())
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


class CredentialStore:
    def __init__(self, catalog: Catalog, fernet: Fernet) -> None:
        self._catalog = catalog
        self._fernet = fernet
        self._cache: dict[str, tuple[AccessKey, float]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, catalog: Catalog) -> CredentialStore:
        return cls(catalog, load_or_create_key(settings.credentials_key_path))

    def create(self, project_id: str) -> NewAccessKey:
        """A new key pair bound to `project_id`."""
        new = NewAccessKey(
            access_key=_random(_ALPHANUMERIC, 20),
            secret_key=_random(_SECRET_ALPHABET, 40),
            project_id=project_id,
        )
        encrypted = self._fernet.encrypt(new.secret_key.encode()).decode()
        with self._catalog.write() as connection:
            connection.execute(
                insert(access_keys).values(
                    access_key=new.access_key,
                    project_id=project_id,
                    secret_encrypted=encrypted,
                    created_at=datetime.now(UTC),
                )
            )
        return new

    def cached(self, access_key: str) -> AccessKey | None:
        """The key as this process last read it, if that was under KEY_CACHE_SECONDS ago.

        Every API request checks a signature; reading and decrypting the key each time would
        cost more than the rest of a list request. A key is never changed once created.
        """
        entry = self._cache.get(access_key)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def lookup(self, access_key: str) -> AccessKey | None:
        key = self._read(access_key)
        if key is not None:  # unknown keys are not cached: a key just created works at once
            self._cache[access_key] = (key, time.monotonic() + KEY_CACHE_SECONDS)
        return key

    def _read(self, access_key: str) -> AccessKey | None:
        query = select(access_keys).filter_by(access_key=access_key)
        with self._catalog.engine.connect() as connection:
            row = connection.execute(query).one_or_none()
        if row is None:
            return None
        try:
            secret = self._fernet.decrypt(row.secret_encrypted.encode()).decode()
        except InvalidToken:
            raise CredentialKeyError(
                f"access key {access_key} was encrypted with another key file"
            ) from None
        return AccessKey(
            access_key=access_key, secret_key=SecretStr(secret), project_id=row.project_id
        )
