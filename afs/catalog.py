"""The image catalog: the system of record for every image, and the per-project creation quota.

SQLAlchemy Core over SQLite (the embedded default) or PostgreSQL (scale-out); nothing in the schema
or the queries is SQLite-only. Every status change is one conditional UPDATE, so concurrent writers
(API, dispatcher, flow hooks, reconcile) never overwrite a newer status with a stale one.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Index,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    TypeDecorator,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from afs.models import FpgaImageRequest, ImageRecord
from afs.settings import Settings, get_settings
from afs.status import IN_CREATION, ImageStatus, can_transition, sources_of

_SQLITE_BUSY_TIMEOUT_MS = 30_000
# Only one image of a project may hold one of these statuses at a time (DESIGN.md, quota).
_QUOTA_STATUSES = sorted(status.value for status in IN_CREATION)
_UNFINISHED = sorted(status.value for status in IN_CREATION | {ImageStatus.DELETING})


class CatalogError(Exception):
    """Base of every error the catalog raises on purpose."""


class QuotaExceeded(CatalogError):
    def __init__(self, project_id: str, image_id_in_creation: str) -> None:
        self.project_id = project_id
        self.image_id_in_creation = image_id_in_creation
        super().__init__(
            f"project {project_id} already has image {image_id_in_creation} in creation; "
            "only one image per project may be created at a time"
        )


class ImageNotFound(CatalogError):
    def __init__(self, image_id: str) -> None:
        self.image_id = image_id
        super().__init__(f"image {image_id} not found")


class ImageExists(CatalogError):
    def __init__(self, image_id: str) -> None:
        self.image_id = image_id
        super().__init__(f"image {image_id} is already registered")


class IllegalTransition(CatalogError):
    """A status change the transition table never allows, or a step the image is not ready for."""


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text, so it is UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the catalog stores only timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

fpga_images = Table(
    "fpga_images",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("name", String(64), nullable=False),
    Column("description", String(255)),
    Column("dcp_location", String(256), nullable=False),
    Column("log_directory", String(64)),
    Column("status", String(16), nullable=False),
    Column("message", Text),
    Column("size_mb", BigInteger),
    Column("metadata", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("flow_run_id", String(64)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("protected", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(
        "status IN ({})".format(", ".join(f"'{status.value}'" for status in ImageStatus)),
        name="ck_fpga_images_status",
    ),
)
_status = fpga_images.c.status
Index("ix_fpga_images_project_created", fpga_images.c.project_id, fpga_images.c.created_at)
Index("ix_fpga_images_status_created", _status, fpga_images.c.created_at)
# The quota, enforced by the database: two racing inserts cannot both hold it.
Index(
    "uq_fpga_images_one_in_creation_per_project",
    fpga_images.c.project_id,
    unique=True,
    sqlite_where=_status.in_(_QUOTA_STATUSES),
    postgresql_where=_status.in_(_QUOTA_STATUSES),
)


def _now() -> datetime:
    return datetime.now(UTC)


def _record(row: Row[Any]) -> ImageRecord:
    return ImageRecord.model_validate(dict(row._mapping))


def _configure_sqlite(engine: Engine) -> None:
    """WAL lets readers run beside the one writer; writers wait (busy timeout) instead of failing.

    pysqlite's own implicit BEGIN is switched off so that write transactions can start with
    BEGIN IMMEDIATE: taking the write lock up front means a transaction never has to upgrade a
    read lock, the case where SQLite fails at once with "database is locked" whatever the timeout.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        writes = connection.get_execution_options().get("afs_writes", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


class Catalog:
    def __init__(self, url: str) -> None:
        self._engine = create_engine(url, pool_pre_ping=True)
        if self._engine.dialect.name == "sqlite":
            _configure_sqlite(self._engine)
        self._writer = self._engine.execution_options(afs_writes=True)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Catalog:
        settings = settings or get_settings()
        settings.home.mkdir(parents=True, exist_ok=True)
        return cls(settings.catalog_database_url)

    def create_schema(self) -> None:
        metadata.create_all(self._writer)

    def dispose(self) -> None:
        """Close the pooled connections (tests and short-lived commands)."""
        self._engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._writer.begin() as connection:
            yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as connection:
            yield connection

    # -- creating and reading ------------------------------------------------------------------

    def register(
        self, project_id: str, request: FpgaImageRequest, *, image_id: str | None = None
    ) -> ImageRecord:
        """Write a new image in status initialing, or fail if the project has one in creation."""
        image_id = image_id or uuid.uuid4().hex
        now = _now()
        values = {
            "id": image_id,
            "project_id": project_id,
            "name": request.name,
            "description": request.description,
            "dcp_location": request.dcp_location,
            "log_directory": request.log_directory,
            "status": ImageStatus.INITIALING.value,
            "message": None,
            "size_mb": None,
            "metadata": {},
            "flow_run_id": None,
            "attempts": 0,
            "protected": False,
            "created_at": now,
            "updated_at": now,
        }
        # A conflict names its cause only by a second look; if the holder finished in between,
        # the quota is free again and the insert is worth one more try.
        for attempt in range(3):
            try:
                with self._write() as connection:
                    row = connection.execute(
                        insert(fpga_images).values(values).returning(*fpga_images.c)
                    ).one()
                return _record(row)
            except IntegrityError:
                with self._read() as connection:
                    if connection.scalar(select(fpga_images.c.id).filter_by(id=image_id)):
                        raise ImageExists(image_id) from None
                holder = self._in_creation(project_id)
                if holder is not None:
                    raise QuotaExceeded(project_id, holder) from None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def image_of_flow_run(self, flow_run_id: str) -> str | None:
        """The image a flow run builds (a run started from the UI knows it only from here)."""
        query = select(fpga_images.c.id).filter_by(flow_run_id=flow_run_id)
        with self._read() as connection:
            return connection.scalar(query)

    def get(self, image_id: str) -> ImageRecord:
        with self._read() as connection:
            row = connection.execute(select(fpga_images).filter_by(id=image_id)).one_or_none()
        if row is None:
            raise ImageNotFound(image_id)
        return _record(row)

    def list_images(
        self,
        project_id: str,
        *,
        image_id: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[int, list[ImageRecord]]:
        """(how many images match, one page of them newest first)."""
        condition = fpga_images.c.project_id == project_id
        if image_id is not None:
            condition &= fpga_images.c.id == image_id
        page = (
            select(fpga_images)
            .where(condition)
            .order_by(fpga_images.c.created_at.desc(), fpga_images.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        with self._read() as connection:
            total = connection.scalar(
                select(func.count()).select_from(fpga_images).where(condition)
            )
            rows = connection.execute(page).all()
        return total or 0, [_record(row) for row in rows]

    def awaiting_dispatch(self, limit: int = 100) -> list[ImageRecord]:
        """The outbox: initialing images that have no flow run yet, oldest first."""
        query = (
            select(fpga_images)
            .where(_status == ImageStatus.INITIALING.value, fpga_images.c.flow_run_id.is_(None))
            .order_by(fpga_images.c.created_at, fpga_images.c.id)
            .limit(limit)
        )
        with self._read() as connection:
            return [_record(row) for row in connection.execute(query)]

    def unfinished(self) -> list[ImageRecord]:
        """Images a flow run is (or should be) working on: what reconcile compares with Prefect."""
        query = (
            select(fpga_images)
            .where(_status.in_(_UNFINISHED))
            .order_by(fpga_images.c.created_at, fpga_images.c.id)
        )
        with self._read() as connection:
            return [_record(row) for row in connection.execute(query)]

    def failed(self, limit: int = 100) -> list[ImageRecord]:
        """Images in error, oldest first: what scheduled reprocessing looks at."""
        query = (
            select(fpga_images)
            .where(_status == ImageStatus.ERROR.value)
            .order_by(fpga_images.c.updated_at, fpga_images.c.id)
            .limit(limit)
        )
        with self._read() as connection:
            return [_record(row) for row in connection.execute(query)]

    # -- status changes ------------------------------------------------------------------------

    def set_status(
        self,
        image_id: str,
        status: ImageStatus,
        *,
        message: str | None = None,
        flow_run_id: str | None = None,
        only_from: Collection[ImageStatus] | None = None,
    ) -> ImageRecord | None:
        """Move the image to `status` if its current status allows it; None if it did not.

        `message` replaces the stored one (None clears it); `flow_run_id` is kept unless given.
        Going back to initialing clears the flow run, so the dispatcher starts a new one.
        Raises IllegalTransition if the table never allows the change from `only_from`.
        """
        allowed = sources_of(status)
        if only_from is not None:
            never = sorted(source for source in only_from if not can_transition(source, status))
            if never:
                raise IllegalTransition(f"an image never goes from {never} to {status}")
            allowed = allowed & frozenset(only_from)
        if not allowed:
            raise IllegalTransition(f"no source status given for {status}")
        values: dict[str, Any] = {"status": status.value, "message": message}
        if flow_run_id is not None:
            values["flow_run_id"] = flow_run_id
        elif status is ImageStatus.INITIALING:
            values["flow_run_id"] = None
        return self._update(image_id, allowed, values)

    def record_attempt(self, image_id: str, flow_run_id: str) -> ImageRecord:
        """A flow run starts building the image: one more attempt, status creating."""
        values = {
            "status": ImageStatus.CREATING.value,
            "message": None,
            "flow_run_id": flow_run_id,
            "attempts": fpga_images.c.attempts + 1,
        }
        return self._update_or_raise(image_id, IN_CREATION, values, "start an attempt")

    def mark_active(self, image_id: str, *, size_mb: int, metadata: dict[str, Any]) -> ImageRecord:
        """The build succeeded: status active, with the image's size and metadata."""
        values = {
            "status": ImageStatus.ACTIVE.value,
            "message": None,
            "size_mb": size_mb,
            "metadata": metadata,
        }
        return self._update_or_raise(image_id, {ImageStatus.CREATING}, values, "become active")

    def mark_error(self, image_id: str, message: str) -> ImageRecord | None:
        """The build failed with `message` ("CODE: text"); a finished image keeps its cause."""
        return self.set_status(image_id, ImageStatus.ERROR, message=message, only_from=IN_CREATION)

    def delete(self, image_id: str) -> None:
        with self._write() as connection:
            deleted = connection.execute(delete(fpga_images).filter_by(id=image_id)).rowcount
        if not deleted:
            raise ImageNotFound(image_id)

    def _update(
        self, image_id: str, sources: Collection[ImageStatus], values: dict[str, Any]
    ) -> ImageRecord | None:
        """One UPDATE ... WHERE id = ? AND status IN sources: the row's current status decides."""
        statement = (
            update(fpga_images)
            .where(fpga_images.c.id == image_id, _status.in_(sorted(s.value for s in sources)))
            .values(**values, updated_at=_now())
            .returning(*fpga_images.c)
        )
        try:
            with self._write() as connection:
                row = connection.execute(statement).one_or_none()
                if row is None and not connection.scalar(select(_status).filter_by(id=image_id)):
                    raise ImageNotFound(image_id)
        except IntegrityError:
            # Back into creation (reprocessing) while the project has another image in creation.
            project_id = self.get(image_id).project_id
            holder = self._in_creation(project_id)
            if holder is None:
                raise
            raise QuotaExceeded(project_id, holder) from None
        return None if row is None else _record(row)

    def _in_creation(self, project_id: str) -> str | None:
        """The id of the project's image holding the quota, if any."""
        query = select(fpga_images.c.id).where(
            fpga_images.c.project_id == project_id, _status.in_(_QUOTA_STATUSES)
        )
        with self._read() as connection:
            return connection.scalar(query)

    def _update_or_raise(
        self, image_id: str, sources: Collection[ImageStatus], values: dict[str, Any], what: str
    ) -> ImageRecord:
        record = self._update(image_id, sources, values)
        if record is None:
            raise IllegalTransition(
                f"image {image_id} is {self.get(image_id).status}: cannot {what}"
            )
        return record


@cache
def default_catalog() -> Catalog:
    """This process's catalog, from the settings, its schema in place."""
    catalog = Catalog.from_settings()
    catalog.create_schema()
    return catalog
