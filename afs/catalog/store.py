"""The image catalog: the system of record for every image, and the per-project creation quota.

SQLAlchemy Core over SQLite (the embedded default) or PostgreSQL (scale-out); nothing in the schema
or the queries is SQLite-only. Every status change is one conditional UPDATE, so concurrent writers
(API, dispatcher, flow hooks, reconcile) never overwrite a newer status with a stale one.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from afs.catalog.errors import (
    AssociationExists,
    AssociationLimit,
    AssociationNotFound,
    ClientTokenConflict,
    IllegalTransition,
    ImageExists,
    ImageNotFound,
    ImageProtected,
    QuotaExceeded,
    WrongStatus,
)
from afs.catalog.schema import (
    MAX_FPGA_IMAGES_PER_ECS_IMAGE,
    QUOTA_STATUSES,
    associations,
    client_tokens,
    fpga_images,
)
from afs.errors import cause_of
from afs.models import USER_METADATA_KEY, FpgaImageRequest, ImageRecord, RegisterFpgaImageRequest
from afs.settings import Settings, get_settings
from afs.status import (
    FINISHED,
    IN_CREATION,
    ImageStatus,
    can_transition,
    queued_status,
    sources_of,
)

_SQLITE_BUSY_TIMEOUT_MS = 30_000
# The PostgreSQL advisory lock a process holds while it creates tables.
_SCHEMA_LOCK = int.from_bytes(b"AFS DDL", "big")
# From this offset on a list counts first, so that it can read a deep page from the oldest end.
_COUNT_FIRST_FROM_OFFSET = 1000
_status = fpga_images.c.status
_UNFINISHED = sorted(status.value for status in IN_CREATION | {ImageStatus.DELETING})
_DELETABLE = sorted(status.value for status in FINISHED)

log = logging.getLogger(__name__)


class ClientToken(NamedTuple):
    """An X-Client-Token and the digest of the request it came with (idempotent creates)."""

    token: str
    body_sha256: str


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


# Told of every image whose status a write of this process changed: (status before, the record
# after; None before for a new image). The orchestration layer publishes them as Prefect events.
StatusObserver = Callable[[ImageStatus | None, ImageRecord], None]
_status_observers: list[StatusObserver] = []


def observe_status_changes(observer: StatusObserver) -> None:
    """Have `observer` told of each status change this process writes (once, however often
    installed)."""
    if observer not in _status_observers:
        _status_observers.append(observer)


def _status_changed(before: str | None, record: ImageRecord) -> None:
    if before == record.status.value:
        return
    for observer in _status_observers:
        try:
            observer(None if before is None else ImageStatus(before), record)
        except Exception:
            log.warning("a status observer failed for image %s", record.id, exc_info=True)


class Catalog:
    def __init__(self, url: str) -> None:
        # A server connection can die between requests; a SQLite file cannot, so it is not pinged.
        parsed = make_url(url)
        is_sqlite = parsed.get_backend_name() == "sqlite"
        on_disk = is_sqlite and parsed.database not in (None, "", ":memory:")
        self._schema_lock_file = Path(f"{parsed.database}.schema-lock") if on_disk else None
        self._engine = create_engine(url, pool_pre_ping=not is_sqlite)
        if is_sqlite:
            _configure_sqlite(self._engine)
        self._writer = self._engine.execution_options(afs_writes=True)
        # SQLite has one writer at a time, and a writer that finds the lock taken sleeps in
        # growing steps (1, 2, 5, 10 ms...). Threads of one process queue here instead, each
        # woken the moment the one before it commits.
        self._one_writer: AbstractContextManager[Any] = (
            threading.Lock() if is_sqlite else nullcontext()
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Catalog:
        settings = settings or get_settings()
        settings.home.mkdir(parents=True, exist_ok=True)
        return cls(settings.catalog_database_url)

    @property
    def engine(self) -> Engine:
        """The engine, for stores that keep their own tables beside the catalog's."""
        return self._engine

    def create_schema(self) -> None:
        """Bring the schema to the latest revision (afs.catalog.migrate; tests and new catalogs)."""
        from afs.catalog.migrate import upgrade

        upgrade(self)

    @contextmanager
    def schema_transaction(self) -> Iterator[Connection]:
        """A write transaction for changing the schema, one process at a time.

        Replicas start together, and each checks the schema before changing it: two processes
        could both find it missing. On SQLite, an flock and then the write transaction's BEGIN
        IMMEDIATE admit one process at a time; on PostgreSQL, an advisory lock held until the
        commit.
        """
        with self._schema_lock(), self.write() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
            yield connection

    @contextmanager
    def _schema_lock(self) -> Iterator[None]:
        """An flock beside a SQLite file, held while its schema is made.

        The first connection to a new file switches it to WAL, and a process connecting at that
        moment fails at once ("database is locked", whatever the busy timeout): schema creation
        comes first in every process, so under this lock the switch happens once, alone.
        """
        if self._schema_lock_file is None:
            yield
            return
        with self._schema_lock_file.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            yield

    def dispose(self) -> None:
        """Close the pooled connections (tests and short-lived commands)."""
        self._engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, holding the write lock from its start (for tables kept beside)."""
        with self._one_writer, self._writer.begin() as connection:
            yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as connection:
            yield connection

    # -- creating and reading ------------------------------------------------------------------

    def register(
        self,
        project_id: str,
        request: FpgaImageRequest | RegisterFpgaImageRequest,
        *,
        image_id: str | None = None,
        client_token: ClientToken | None = None,
    ) -> ImageRecord:
        """Write a new image in status initialing (a registration: saving), or fail if the
        project has one in creation.

        With `client_token`, a token already used with the same body returns that image instead,
        and one used with another body raises ClientTokenConflict.
        """
        image_id = image_id or uuid.uuid4().hex
        now = _now()
        if isinstance(request, RegisterFpgaImageRequest):
            location, log_directory = request.location, None
            status, image_metadata = ImageStatus.SAVING, {USER_METADATA_KEY: request.metadata}
        else:
            location, log_directory = request.dcp_location, request.log_directory
            status, image_metadata = ImageStatus.INITIALING, {}
        values: dict[str, Any] = {
            "id": image_id,
            "project_id": project_id,
            "name": request.name,
            "description": request.description,
            "dcp_location": location,
            "log_directory": log_directory,
            "status": status.value,
            "message": None,
            "size_mb": None,
            "metadata": image_metadata,
            "flow_run_id": None,
            "attempts": 0,
            "requeues": 0,
            "protected": False,
            "created_at": now,
            "updated_at": now,
        }
        # A conflict names its cause only by a second look; if the holder finished in between,
        # the quota is free again and the insert is worth one more try.
        for attempt in range(3):
            try:
                with self.write() as connection:
                    row = connection.execute(
                        insert(fpga_images).values(values).returning(*fpga_images.c)
                    ).one()
                    if client_token is not None:
                        connection.execute(
                            insert(client_tokens).values(
                                project_id=project_id,
                                token=client_token.token,
                                body_sha256=client_token.body_sha256,
                                image_id=image_id,
                                created_at=now,
                            )
                        )
                record = _record(row)
                _status_changed(None, record)
                return record
            except IntegrityError:
                with self._read() as connection:
                    if connection.scalar(select(fpga_images.c.id).filter_by(id=image_id)):
                        raise ImageExists(image_id) from None
                if client_token is not None:
                    earlier = self.image_of_client_token(project_id, client_token)
                    if earlier is not None:
                        return earlier
                holder = self._in_creation(project_id)
                if holder is not None:
                    raise QuotaExceeded(project_id, holder) from None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def image_of_client_token(
        self, project_id: str, client_token: ClientToken
    ) -> ImageRecord | None:
        """The image an earlier create with this token made (None: token unused, or image gone).

        Raises ClientTokenConflict if that create had another body.
        """
        query = select(client_tokens.c.body_sha256, client_tokens.c.image_id).filter_by(
            project_id=project_id, token=client_token.token
        )
        with self._read() as connection:
            earlier = connection.execute(query).one_or_none()
        if earlier is None:
            return None
        if earlier.body_sha256 != client_token.body_sha256:
            raise ClientTokenConflict(client_token.token, earlier.image_id)
        try:
            return self.get(earlier.image_id)
        except ImageNotFound:
            return None

    def image_of_flow_run(self, flow_run_id: str) -> str | None:
        """The image a flow run builds (a run started from the UI knows it only from here)."""
        query = select(fpga_images.c.id).filter_by(flow_run_id=flow_run_id)
        with self._read() as connection:
            return connection.scalar(query)

    def get(self, image_id: str, *, project_id: str | None = None) -> ImageRecord:
        """The image; with `project_id`, another project's image is not found either."""
        query = select(fpga_images).filter_by(id=image_id)
        if project_id is not None:
            query = query.filter_by(project_id=project_id)
        with self._read() as connection:
            row = connection.execute(query).one_or_none()
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
        order = (fpga_images.c.created_at.desc(), fpga_images.c.id.desc())  # newest first
        skip, take, reverse = offset, limit, False
        count = select(func.count()).select_from(fpga_images).where(condition)
        total: int | None = None
        with self._read() as connection:  # one read transaction: the count fits the page
            if limit is not None and offset >= _COUNT_FIRST_FROM_OFFSET:
                # SQLite and PostgreSQL walk past every skipped row, so a page beyond the middle
                # is read from the oldest end, where fewer rows lie before it.
                total = connection.scalar(count) or 0
                older = total - offset - limit  # images after this page
                if older < offset < total:
                    order = (fpga_images.c.created_at.asc(), fpga_images.c.id.asc())
                    skip, take, reverse = max(older, 0), limit + min(older, 0), True
            page = select(fpga_images).where(condition).order_by(*order)
            # Result.all() is typed as a Sequence but returns a list, which is reversed in place.
            rows = cast("list[Row[Any]]", connection.execute(page.offset(skip).limit(take)).all())
            if reverse:
                rows.reverse()
            if total is None:
                reached_the_end = (rows or offset == 0) and (limit is None or len(rows) < limit)
                total = offset + len(rows) if reached_the_end else connection.scalar(count) or 0
        return total, [_record(row) for row in rows]

    def awaiting_dispatch(self, limit: int = 100) -> list[ImageRecord]:
        """The outbox: initialing (or saving) images that have no flow run yet, oldest first."""
        queued = {ImageStatus.INITIALING, ImageStatus.SAVING}
        return self._without_run(queued, fpga_images.c.created_at, limit)

    def awaiting_delete(self, limit: int = 100) -> list[ImageRecord]:
        """The delete outbox: deleting images that no delete run works on, oldest first."""
        return self._without_run({ImageStatus.DELETING}, fpga_images.c.updated_at, limit)

    def _without_run(
        self, statuses: Collection[ImageStatus], oldest_first: ColumnElement[Any], limit: int
    ) -> list[ImageRecord]:
        query = (
            select(fpga_images)
            .where(
                _status.in_(sorted(status.value for status in statuses)),
                fpga_images.c.flow_run_id.is_(None),
            )
            .order_by(oldest_first, fpga_images.c.id)
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

    def retryable_failures(
        self, codes: Collection[str], *, max_attempts: int, limit: int = 100
    ) -> list[ImageRecord]:
        """Images in error for one of the causes `codes` that have builds left,
        oldest first: what scheduled reprocessing takes (filtered here, so failures that will
        never be retried cannot crowd out those that will).

        Builds so far are the runs that started (`attempts`) or, if more, the times the image was
        dispatched (`requeues` + 1): an image whose runs never start is bounded too.
        """
        query = (
            select(fpga_images)
            .where(
                _status == ImageStatus.ERROR.value,
                fpga_images.c.attempts < max_attempts,
                fpga_images.c.requeues + 1 < max_attempts,
                fpga_images.c.failure_cause.in_(sorted(codes)),
            )
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
            values["requeues"] = fpga_images.c.requeues + 1
        return self._update(image_id, allowed, values)

    def record_attempt(
        self, image_id: str, flow_run_id: str, status: ImageStatus = ImageStatus.CREATING
    ) -> ImageRecord:
        """A flow run starts building (saving) the image: one more attempt, status `status`.

        Only the image's own run (or the first run, while none is recorded) may: a second run
        for the same image must not take it over.
        """
        values = {
            "status": status.value,
            "message": None,
            "flow_run_id": flow_run_id,
            "attempts": fpga_images.c.attempts + 1,
        }
        own_run = or_(fpga_images.c.flow_run_id.is_(None), fpga_images.c.flow_run_id == flow_run_id)
        return self._update_or_raise(
            image_id, IN_CREATION, values, "start an attempt", where=own_run
        )

    def mark_active(
        self, image_id: str, *, flow_run_id: str, size_mb: int, metadata: dict[str, Any]
    ) -> ImageRecord:
        """The build of `flow_run_id` succeeded: status active, with the image's size and metadata.

        Fenced: only while the image is still that run's (a run crashed by mistake whose image
        reprocessing handed to a newer run cannot finish it).
        """
        values = {
            "status": ImageStatus.ACTIVE.value,
            "message": None,
            "size_mb": size_mb,
            "metadata": metadata,
        }
        own_run = fpga_images.c.flow_run_id == flow_run_id
        return self._update_or_raise(
            image_id, sources_of(ImageStatus.ACTIVE), values, "become active", where=own_run
        )

    def mark_error(
        self, image_id: str, message: str, *, flow_run_id: str | None = None
    ) -> ImageRecord | None:
        """The build failed with `message` ("CODE: text"); a finished image keeps its cause.

        With `flow_run_id`, fenced like mark_active: only while the image is still that run's.
        """
        values = {"status": ImageStatus.ERROR.value, "message": message}
        own_run = None if flow_run_id is None else fpga_images.c.flow_run_id == flow_run_id
        return self._update(image_id, IN_CREATION, values, where=own_run)

    def requeue(self, image_id: str) -> ImageRecord | None:
        """A failed image back to the dispatcher for another run (initialing; a registration,
        saving), counted as a requeue; None if it is no longer in error."""
        record = self.get(image_id)
        values = {
            "status": queued_status(record.registered).value,
            "message": None,
            "flow_run_id": None,
            "requeues": fpga_images.c.requeues + 1,
        }
        return self._update(image_id, {ImageStatus.ERROR}, values)

    def hand_back(self, image_id: str, flow_run_id: str) -> ImageRecord | None:
        """The run `flow_run_id` cannot build the image on its host: back to the dispatcher,
        its attempt uncounted (it built nothing); None if the image is no longer that run's."""
        values = {
            "status": ImageStatus.INITIALING.value,
            "message": None,
            "flow_run_id": None,
            "attempts": fpga_images.c.attempts - 1,
            "requeues": fpga_images.c.requeues + 1,
        }
        own_run = fpga_images.c.flow_run_id == flow_run_id
        return self._update(image_id, {ImageStatus.CREATING}, values, where=own_run)

    def begin_delete(self, project_id: str, image_id: str) -> ImageRecord:
        """Active or error, unprotected -> deleting, with no delete run yet (the outbox)."""
        statement = (
            update(fpga_images)
            .where(
                fpga_images.c.id == image_id,
                fpga_images.c.project_id == project_id,
                _status.in_(_DELETABLE),
                fpga_images.c.protected.is_(False),
            )
            .values(status=ImageStatus.DELETING.value, flow_run_id=None, updated_at=_now())
            .returning(*fpga_images.c)
        )
        with self.write() as connection:
            row = connection.execute(statement).one_or_none()
        if row is not None:
            return _record(row)
        record = self.get(image_id, project_id=project_id)
        if record.protected:
            raise ImageProtected(image_id)
        raise WrongStatus(image_id, record.status, "be deleted", "active or error")

    def delete_started(self, image_id: str, flow_run_id: str) -> ImageRecord | None:
        """A delete run took the image; None if another dispatcher or a finished run was first."""
        return self._set_delete_run(image_id, flow_run_id, fpga_images.c.flow_run_id.is_(None))

    def release_delete(self, image_id: str) -> ImageRecord | None:
        """A delete run gave up: the image waits in the outbox for the dispatcher's next try."""
        return self._set_delete_run(image_id, None, fpga_images.c.flow_run_id.is_not(None))

    def _set_delete_run(
        self, image_id: str, flow_run_id: str | None, condition: Any
    ) -> ImageRecord | None:
        statement = (
            update(fpga_images)
            .where(fpga_images.c.id == image_id, _status == ImageStatus.DELETING.value, condition)
            .values(flow_run_id=flow_run_id, updated_at=_now())
            .returning(*fpga_images.c)
        )
        with self.write() as connection:
            row = connection.execute(statement).one_or_none()
        return None if row is None else _record(row)

    def delete(self, image_id: str) -> None:
        """Remove the record with its client tokens and associations."""
        with self.write() as connection:
            connection.execute(delete(client_tokens).filter_by(image_id=image_id))
            connection.execute(delete(associations).filter_by(fpga_image_id=image_id))
            deleted = connection.execute(delete(fpga_images).filter_by(id=image_id)).rowcount
        if not deleted:
            raise ImageNotFound(image_id)

    # -- associations with ECS images ----------------------------------------------------------

    def associate(self, project_id: str, fpga_image_id: str, ecs_image_id: str) -> None:
        """Associate an active image with an ECS image; the image becomes protected."""
        protect = (
            update(fpga_images)
            .where(
                fpga_images.c.id == fpga_image_id,
                fpga_images.c.project_id == project_id,
                _status == ImageStatus.ACTIVE.value,
            )
            .values(protected=True, updated_at=_now())
            .returning(fpga_images.c.id)
        )
        pair = {"project_id": project_id, "image_id": ecs_image_id}
        # A racing association may take the slot this one picked: the next try picks another.
        for attempt in range(MAX_FPGA_IMAGES_PER_ECS_IMAGE + 1):
            try:
                with self.write() as connection:
                    if connection.execute(protect).one_or_none() is None:
                        break
                    taken = connection.execute(
                        select(associations.c.fpga_image_id, associations.c.slot).filter_by(**pair)
                    ).all()
                    if any(row.fpga_image_id == fpga_image_id for row in taken):
                        raise AssociationExists(fpga_image_id, ecs_image_id)
                    free = sorted(
                        set(range(MAX_FPGA_IMAGES_PER_ECS_IMAGE)) - {r.slot for r in taken}
                    )
                    if not free:
                        raise AssociationLimit(ecs_image_id)
                    connection.execute(
                        insert(associations).values(
                            **pair, fpga_image_id=fpga_image_id, slot=free[0], created_at=_now()
                        )
                    )
                return
            except IntegrityError:
                if attempt == MAX_FPGA_IMAGES_PER_ECS_IMAGE:
                    raise
        record = self.get(fpga_image_id, project_id=project_id)
        raise WrongStatus(fpga_image_id, record.status, "be associated", "active")

    def disassociate(self, project_id: str, fpga_image_id: str, ecs_image_id: str) -> None:
        """Remove the pair; the image stays protected while any association is left."""
        self.get(fpga_image_id, project_id=project_id)
        pair = (
            (associations.c.project_id == project_id)
            & (associations.c.image_id == ecs_image_id)
            & (associations.c.fpga_image_id == fpga_image_id)
        )
        remaining = select(func.count()).where(associations.c.fpga_image_id == fpga_image_id)
        with self.write() as connection:
            if not connection.execute(delete(associations).where(pair)).rowcount:
                raise AssociationNotFound(fpga_image_id, ecs_image_id)
            if not connection.scalar(remaining):
                connection.execute(
                    update(fpga_images)
                    .where(fpga_images.c.id == fpga_image_id)
                    .values(protected=False, updated_at=_now())
                )

    def list_associations(
        self,
        project_id: str,
        *,
        ecs_image_id: str | None = None,
        fpga_image_id: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[tuple[str, ImageRecord]]:
        """(ECS image id, FPGA image) pairs of the project, by ECS image, newest pair first."""
        condition = associations.c.project_id == project_id
        if ecs_image_id is not None:
            condition &= associations.c.image_id == ecs_image_id
        if fpga_image_id is not None:
            condition &= associations.c.fpga_image_id == fpga_image_id
        query = (
            select(associations.c.image_id.label("ecs_image_id"), fpga_images)
            .join(fpga_images, fpga_images.c.id == associations.c.fpga_image_id)
            .where(condition)
            .order_by(associations.c.image_id, associations.c.created_at.desc(), fpga_images.c.id)
            .offset(offset)
            .limit(limit)
        )
        with self._read() as connection:
            rows = connection.execute(query).all()
        return [
            (
                row.ecs_image_id,
                ImageRecord.model_validate(
                    {key: value for key, value in row._mapping.items() if key != "ecs_image_id"}
                ),
            )
            for row in rows
        ]

    def _update(
        self,
        image_id: str,
        sources: Collection[ImageStatus],
        values: dict[str, Any],
        where: ColumnElement[bool] | None = None,
    ) -> ImageRecord | None:
        """One UPDATE ... WHERE id = ? AND status IN sources: the row's current status decides.

        A new message brings its cause ("CODE: text") into the failure_cause column with it.
        """
        if "message" in values:
            cause = cause_of(values["message"])
            values = {**values, "failure_cause": cause.value if cause else None}
        conditions = [fpga_images.c.id == image_id, _status.in_(sorted(s.value for s in sources))]
        if where is not None:
            conditions.append(where)
        statement = (
            update(fpga_images)
            .where(*conditions)
            .values(**values, updated_at=_now())
            .returning(*fpga_images.c)
        )
        try:
            with self.write() as connection:
                before = connection.scalar(select(_status).filter_by(id=image_id))
                if before is None:
                    raise ImageNotFound(image_id)
                row = connection.execute(statement).one_or_none()
        except IntegrityError:
            # Back into creation (reprocessing) while the project has another image in creation.
            project_id = self.get(image_id).project_id
            holder = self._in_creation(project_id)
            if holder is None:
                raise
            raise QuotaExceeded(project_id, holder) from None
        if row is None:
            return None
        record = _record(row)
        _status_changed(before, record)
        return record

    def _in_creation(self, project_id: str) -> str | None:
        """The id of the project's image holding the quota, if any."""
        query = select(fpga_images.c.id).where(
            fpga_images.c.project_id == project_id, _status.in_(QUOTA_STATUSES)
        )
        with self._read() as connection:
            return connection.scalar(query)

    def _update_or_raise(
        self,
        image_id: str,
        sources: Collection[ImageStatus],
        values: dict[str, Any],
        what: str,
        where: ColumnElement[bool] | None = None,
    ) -> ImageRecord:
        record = self._update(image_id, sources, values, where)
        if record is None:
            current = self.get(image_id)
            raise IllegalTransition(
                f"image {image_id} is {current.status} (run {current.flow_run_id}): cannot {what}"
            )
        return record


@cache
def default_catalog() -> Catalog:
    """This process's catalog, from the settings: created if empty, refused (CatalogOutOfDate)
    if its schema is at another revision than this code's."""
    from afs.catalog.migrate import require_current

    catalog = Catalog.from_settings()
    require_current(catalog)
    return catalog
