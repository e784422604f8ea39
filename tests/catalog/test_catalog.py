"""The image catalog: records, the one-image-in-creation quota, conditional status changes."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert
from sqlalchemy.exc import IntegrityError

from afs.catalog import (
    Catalog,
    IllegalTransition,
    ImageExists,
    ImageNotFound,
    QuotaExceeded,
    fpga_images,
)
from afs.models import FpgaImageRequest, ImageRecord
from afs.settings import Settings
from afs.status import ImageStatus

S = ImageStatus
PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
OTHER_PROJECT = "ffeeddccbbaa99887766554433221100"


def request(name: str = "fpga-image-test", **fields: str) -> FpgaImageRequest:
    return FpgaImageRequest(dcp_location="obs-fpga:vu9p/dcp.tar", name=name, **fields)


@pytest.fixture(scope="module")
def postgres_catalog_url(postgres_url: str) -> str:
    """One database for this module's PostgreSQL cases; each case starts from empty tables."""
    database = f"catalog_{uuid.uuid4().hex}"
    with create_engine(postgres_url, isolation_level="AUTOCOMMIT").connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    return postgres_url.rsplit("/", 1)[0] + f"/{database}"


def _empty_tables(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            tables = connection.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'alembic_version'"
            ).scalars()
            names = ", ".join(f'"{name}"' for name in tables)
            if names:
                connection.exec_driver_sql(f"TRUNCATE {names}")
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.servers)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every behaviour holds on SQLite (embedded) and PostgreSQL (scale-out) alike."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    database_url = request.getfixturevalue("postgres_catalog_url")
    _empty_tables(database_url)
    return database_url


@pytest.fixture
def catalog(url: str) -> Iterator[Catalog]:
    catalog = Catalog(url)
    catalog.create_schema()
    yield catalog
    catalog.dispose()


def finished(catalog: Catalog, project_id: str = PROJECT, name: str = "img") -> ImageRecord:
    """Register an image and fail it at once, freeing the project's quota for the next one."""
    image = catalog.register(project_id, request(name))
    assert catalog.mark_error(image.id, "INTERNAL_ERROR: test") is not None
    return catalog.get(image.id)


# -- records -------------------------------------------------------------------------------------


def test_register_and_get_round_trip(catalog: Catalog) -> None:
    asked = FpgaImageRequest(
        dcp_location="obs-fpga:vu9p/design/dcp.tar",
        log_directory="vu9p/log",
        name="fpga-image-test",
        description="测试镜像 v1.0，ok。",
    )
    image = catalog.register(PROJECT, asked)

    assert re.fullmatch(r"[0-9a-f]{32}", image.id)
    assert image.status is S.INITIALING
    assert (image.project_id, image.request) == (PROJECT, asked)
    assert (image.message, image.size_mb, image.flow_run_id) == (None, None, None)
    assert (image.metadata, image.attempts, image.protected) == ({}, 0, False)
    assert catalog.get(image.id) == image


def test_register_with_a_given_id_keeps_it_and_refuses_it_twice(catalog: Catalog) -> None:
    image_id = "0123456789abcdef0123456789abcdef"
    assert catalog.register(PROJECT, request(), image_id=image_id).id == image_id
    catalog.mark_error(image_id, "INTERNAL_ERROR: test")

    with pytest.raises(ImageExists):
        catalog.register(OTHER_PROJECT, request(), image_id=image_id)
    assert catalog.get(image_id).project_id == PROJECT


def test_ids_are_fresh_per_image(catalog: Catalog) -> None:
    ids = {finished(catalog).id for _ in range(5)}
    assert len(ids) == 5


def test_timestamps_are_utc_and_updated_at_moves(catalog: Catalog) -> None:
    before = datetime.now(UTC)
    image = catalog.register(PROJECT, request())
    changed = catalog.set_status(image.id, S.SCHEDULING)
    after = datetime.now(UTC)

    assert changed is not None
    for moment in (image.created_at, image.updated_at, changed.updated_at):
        assert moment.utcoffset() == timedelta(0)
        assert before <= moment <= after
    assert catalog.get(image.id).created_at == image.created_at
    assert changed.updated_at > image.updated_at


def test_unknown_image_is_not_found(catalog: Catalog) -> None:
    missing = "f" * 32
    with pytest.raises(ImageNotFound, match=missing):
        catalog.get(missing)
    with pytest.raises(ImageNotFound):
        catalog.set_status(missing, S.ERROR, message="INTERNAL_ERROR: test")
    with pytest.raises(ImageNotFound):
        catalog.delete(missing)


def test_delete_removes_the_image(catalog: Catalog) -> None:
    image = finished(catalog)
    catalog.delete(image.id)
    with pytest.raises(ImageNotFound):
        catalog.get(image.id)
    assert catalog.list_images(PROJECT) == (0, [])


def test_schema_creation_is_idempotent_and_data_survives_a_new_engine(url: str) -> None:
    first = Catalog(url)
    first.create_schema()
    image = first.register(PROJECT, request())
    first.dispose()

    second = Catalog(url)
    second.create_schema()
    assert second.get(image.id) == image
    second.dispose()


def test_from_settings_makes_home_and_a_sqlite_catalog_in_it(tmp_path: Path) -> None:
    home = tmp_path / "not" / "yet"
    catalog = Catalog.from_settings(Settings(home=home))
    catalog.create_schema()
    image = catalog.register(PROJECT, request())
    catalog.dispose()

    assert (home / "catalog.db").is_file()
    reopened = Catalog(f"sqlite:///{home / 'catalog.db'}")
    assert reopened.get(image.id).id == image.id
    reopened.dispose()


# -- the quota -------------------------------------------------------------------------------------


def test_a_second_image_in_creation_is_refused_naming_the_first(catalog: Catalog) -> None:
    first = catalog.register(PROJECT, request("first"))

    with pytest.raises(QuotaExceeded, match=first.id) as refused:
        catalog.register(PROJECT, request("second"))

    assert (refused.value.project_id, refused.value.image_id_in_creation) == (PROJECT, first.id)
    assert catalog.list_images(PROJECT)[0] == 1


def test_another_project_is_not_held_by_the_quota(catalog: Catalog) -> None:
    catalog.register(PROJECT, request())
    assert catalog.register(OTHER_PROJECT, request()).status is S.INITIALING


@pytest.mark.parametrize("status", [S.SCHEDULING, S.CREATING])
def test_every_in_creation_status_holds_the_quota(catalog: Catalog, status: ImageStatus) -> None:
    first = catalog.register(PROJECT, request())
    catalog.set_status(first.id, status)
    with pytest.raises(QuotaExceeded):
        catalog.register(PROJECT, request())


def test_an_active_image_frees_the_quota(catalog: Catalog) -> None:
    first = catalog.register(PROJECT, request())
    catalog.record_attempt(first.id, "run-1")
    catalog.mark_active(first.id, flow_run_id="run-1", size_mb=12, metadata={})
    assert catalog.register(PROJECT, request()).status is S.INITIALING


def test_an_error_frees_the_quota(catalog: Catalog) -> None:
    first = catalog.register(PROJECT, request())
    catalog.mark_error(first.id, "CANCELLED: by the user")
    assert catalog.register(PROJECT, request()).status is S.INITIALING


def test_reprocessing_takes_the_quota_back_only_when_it_is_free(catalog: Catalog) -> None:
    failed = finished(catalog)
    newer = catalog.register(PROJECT, request())

    with pytest.raises(QuotaExceeded, match=newer.id):
        catalog.set_status(failed.id, S.INITIALING)
    assert catalog.get(failed.id).status is S.ERROR

    catalog.mark_error(newer.id, "INTERNAL_ERROR: test")
    retried = catalog.set_status(failed.id, S.INITIALING)
    assert retried is not None
    assert retried.status is S.INITIALING


def test_the_database_itself_enforces_the_quota(catalog: Catalog, url: str) -> None:
    """Even a writer that bypasses Catalog cannot put a second image in creation."""
    catalog.register(PROJECT, request())
    now = datetime.now(UTC)
    row = {
        "id": "1" * 32,
        "project_id": PROJECT,
        "name": "sneaky",
        "dcp_location": "obs-fpga:vu9p/dcp.tar",
        "status": "creating",
        "metadata": {},
        "attempts": 0,
        "protected": False,
        "created_at": now,
        "updated_at": now,
    }
    engine = create_engine(url)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(fpga_images).values(row))
    engine.dispose()


def race(threads: int, work: Callable[[int], object]) -> tuple[list[object], list[BaseException]]:
    """Run `work(i)` in `threads` threads released at the same instant; (results, errors)."""
    barrier = threading.Barrier(threads)
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        barrier.wait()
        try:
            result = work(index)
        except BaseException as error:
            with lock:
                errors.append(error)
        else:
            with lock:
                results.append(result)

    workers = [threading.Thread(target=run, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(worker.is_alive() for worker in workers)
    return results, errors


@pytest.mark.parametrize("engines", ["one shared engine", "one engine per thread"])
def test_racing_creates_for_one_project_let_exactly_one_win(url: str, engines: str) -> None:
    Catalog(url).create_schema()
    shared = Catalog(url)
    # An engine per thread behaves like separate processes: nothing is shared but the file.
    catalogs = [shared if engines == "one shared engine" else Catalog(url) for _ in range(20)]

    winners, errors = race(20, lambda i: catalogs[i].register(PROJECT, request(f"img-{i}")))

    assert len(winners) == 1
    winner = winners[0]
    assert isinstance(winner, ImageRecord)
    assert len(errors) == 19
    assert all(type(error) is QuotaExceeded for error in errors), errors
    assert {error.image_id_in_creation for error in errors} == {winner.id}  # type: ignore[attr-defined]
    assert shared.list_images(PROJECT)[0] == 1
    for catalog in {*catalogs, shared}:
        catalog.dispose()


def test_racing_creates_for_twenty_projects_all_win(catalog: Catalog) -> None:
    projects = [f"{index:032x}" for index in range(20)]

    winners, errors = race(20, lambda i: catalog.register(projects[i], request()))

    assert errors == []
    assert sorted(image.project_id for image in winners) == projects  # type: ignore[attr-defined]
    assert len(catalog.unfinished()) == 20


# -- status changes --------------------------------------------------------------------------------


def test_a_stale_writer_loses_and_changes_nothing(catalog: Catalog) -> None:
    image = catalog.register(PROJECT, request())
    catalog.record_attempt(image.id, "run-1")
    active = catalog.mark_active(
        image.id, flow_run_id="run-1", size_mb=40, metadata={"toolchain": "emulator"}
    )

    # A late hook still believing the run is starting.
    assert catalog.set_status(image.id, S.CREATING, message="late hook") is None
    assert catalog.get(image.id) == active


def test_only_from_narrows_the_allowed_sources(catalog: Catalog) -> None:
    image = catalog.register(PROJECT, request())
    assert catalog.set_status(image.id, S.CREATING, only_from={S.SCHEDULING}) is None
    moved = catalog.set_status(image.id, S.CREATING, only_from={S.INITIALING}, flow_run_id="r")
    assert moved is not None
    assert (moved.status, moved.flow_run_id) == (S.CREATING, "r")


def test_racing_failures_record_exactly_one_cause(catalog: Catalog) -> None:
    image = catalog.register(PROJECT, request())

    results, errors = race(20, lambda i: catalog.mark_error(image.id, f"WORKER_CRASHED: #{i}"))

    assert errors == []
    won = [record for record in results if record is not None]
    assert len(won) == 1
    assert catalog.get(image.id).message == won[0].message  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("target", "only_from"),
    [
        (S.ACTIVE, {S.INITIALING}),
        (S.CREATING, {S.ACTIVE}),
        (S.ERROR, {S.ACTIVE, S.CREATING}),
        (S.DELETING, {S.CREATING}),
    ],
)
def test_a_transition_the_table_never_allows_is_illegal(
    catalog: Catalog, target: ImageStatus, only_from: set[ImageStatus]
) -> None:
    image = catalog.register(PROJECT, request())
    with pytest.raises(IllegalTransition):
        catalog.set_status(image.id, target, only_from=only_from)
    assert catalog.get(image.id) == image


def test_an_unfinished_status_may_repeat_with_a_new_message(catalog: Catalog) -> None:
    image = catalog.register(PROJECT, request())
    catalog.set_status(image.id, S.SCHEDULING, message="waiting for a worker", flow_run_id="run-1")
    again = catalog.set_status(image.id, S.SCHEDULING, message="waiting for a licence")

    assert again is not None
    assert (again.status, again.message, again.flow_run_id) == (
        S.SCHEDULING,
        "waiting for a licence",
        "run-1",
    )


def test_a_finished_status_does_not_repeat(catalog: Catalog) -> None:
    image = finished(catalog)
    assert catalog.set_status(image.id, S.ERROR, message="INTERNAL_ERROR: again") is None


def test_mark_error_keeps_the_first_cause(catalog: Catalog) -> None:
    image = catalog.register(PROJECT, request())
    first = catalog.mark_error(image.id, "DCP_CORRUPT: dcp.xml is missing")
    assert first is not None
    assert (first.status, first.message) == (S.ERROR, "DCP_CORRUPT: dcp.xml is missing")

    assert catalog.mark_error(image.id, "WORKER_CRASHED: hook after the fact") is None
    assert catalog.get(image.id).message == "DCP_CORRUPT: dcp.xml is missing"


def test_mark_error_does_not_spoil_an_active_image(catalog: Catalog) -> None:
    image = catalog.register(PROJECT, request())
    catalog.record_attempt(image.id, "run-1")
    catalog.mark_active(image.id, flow_run_id="run-1", size_mb=1, metadata={})
    assert catalog.mark_error(image.id, "INTERNAL_ERROR: late") is None
    assert catalog.get(image.id).status is S.ACTIVE


def test_attempts_count_each_run_of_a_retried_build(catalog: Catalog) -> None:
    image = catalog.register(PROJECT, request())
    first = catalog.record_attempt(image.id, "run-1")
    assert (first.status, first.attempts, first.flow_run_id) == (S.CREATING, 1, "run-1")

    catalog.set_status(image.id, S.SCHEDULING, message="AwaitingRetry")
    second = catalog.record_attempt(image.id, "run-1")
    assert (second.status, second.attempts, second.message) == (S.CREATING, 2, None)


def test_mark_active_stores_size_and_metadata(catalog: Catalog) -> None:
    image = catalog.register(PROJECT, request())
    catalog.record_attempt(image.id, "run-1")
    metadata = {"toolchain": "afs-vivado-emulator", "shell_id": "0x01010029", "sizes": [1, 2]}

    active = catalog.mark_active(image.id, flow_run_id="run-1", size_mb=42, metadata=metadata)

    assert (active.status, active.size_mb, active.metadata) == (S.ACTIVE, 42, metadata)
    assert catalog.get(image.id) == active


def test_steps_out_of_order_are_refused(catalog: Catalog) -> None:
    image = catalog.register(PROJECT, request())
    with pytest.raises(IllegalTransition, match="initialing"):
        catalog.mark_active(image.id, flow_run_id="run-1", size_mb=1, metadata={})

    catalog.mark_error(image.id, "CANCELLED: by the user")
    with pytest.raises(IllegalTransition, match="error"):
        catalog.record_attempt(image.id, "run-1")
    assert catalog.get(image.id).attempts == 0


def test_a_run_on_a_host_without_the_tool_hands_its_image_back_uncounted(
    catalog: Catalog,
) -> None:
    image = catalog.register(PROJECT, request())
    catalog.record_attempt(image.id, "run-1")

    assert catalog.hand_back(image.id, "run-2") is None, "only the image's own run may"
    back = catalog.hand_back(image.id, "run-1")

    assert back is not None
    assert (back.status, back.flow_run_id, back.attempts, back.requeues) == (
        S.INITIALING,
        None,
        0,
        1,  # a new idempotency key: the dispatcher starts a new run, on the right queue
    )
    assert [record.id for record in catalog.awaiting_dispatch()] == [image.id]
    assert catalog.hand_back(image.id, "run-1") is None, "not in creation any more"


def test_back_to_initialing_puts_the_image_in_the_outbox_again(catalog: Catalog) -> None:
    image = catalog.register(PROJECT, request())
    catalog.record_attempt(image.id, "run-1")
    catalog.mark_error(image.id, "WORKER_CRASHED: no heartbeat")

    again = catalog.set_status(image.id, S.INITIALING)

    assert again is not None
    assert (again.status, again.message, again.flow_run_id, again.attempts) == (
        S.INITIALING,
        None,
        None,
        1,
    )
    assert [record.id for record in catalog.awaiting_dispatch()] == [image.id]


def test_delete_flow_statuses(catalog: Catalog) -> None:
    image = finished(catalog)
    assert catalog.set_status(image.id, S.DELETING) is not None
    failed = catalog.set_status(image.id, S.ERROR, message="INTERNAL_ERROR: store down")
    assert failed is not None
    assert (failed.status, failed.message) == (S.ERROR, "INTERNAL_ERROR: store down")


# -- queries ---------------------------------------------------------------------------------------


def test_list_pages_newest_first(catalog: Catalog) -> None:
    made = [finished(catalog, name=f"img-{index}") for index in range(5)]
    newest_first = [image.id for image in reversed(made)]

    total, everything = catalog.list_images(PROJECT)
    assert total == 5
    assert [image.id for image in everything] == newest_first

    total, page = catalog.list_images(PROJECT, offset=1, limit=2)
    assert total == 5
    assert [image.id for image in page] == newest_first[1:3]

    assert catalog.list_images(PROJECT, offset=5, limit=2) == (5, [])


def test_the_count_is_all_matching_images_whichever_page_is_read(catalog: Catalog) -> None:
    for index in range(5):
        finished(catalog, name=f"img-{index}")
    windows = [(0, 5), (0, 4), (3, 2), (4, 2), (4, 100), (9, 2), (0, None), (2, None)]
    for offset, limit in windows:
        total, page = catalog.list_images(PROJECT, offset=offset, limit=limit)
        assert total == 5, (offset, limit)
        assert len(page) == max(0, min(5 - offset, limit or 5))


@pytest.mark.parametrize("count_first_from_offset", [0, 1000])
def test_every_page_is_the_same_slice_whichever_end_it_is_read_from(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, count_first_from_offset: int
) -> None:
    # From the threshold on, pages past the middle are read from the oldest end and reversed.
    monkeypatch.setattr("afs.catalog.store._COUNT_FIRST_FROM_OFFSET", count_first_from_offset)
    newest_first = [finished(catalog, name=f"img-{index}").id for index in range(7)][::-1]
    for offset in range(9):
        for limit in [1, 2, 3, 6, 7, 8, None]:
            total, page = catalog.list_images(PROJECT, offset=offset, limit=limit)
            expected = newest_first[offset : None if limit is None else offset + limit]
            assert (total, [image.id for image in page]) == (7, expected), (offset, limit)


def test_list_is_isolated_per_project_and_filters_by_id(catalog: Catalog) -> None:
    mine = finished(catalog, PROJECT)
    theirs = finished(catalog, OTHER_PROJECT)

    assert [image.id for image in catalog.list_images(PROJECT)[1]] == [mine.id]
    assert catalog.list_images(PROJECT, image_id=mine.id) == (1, [mine])
    assert catalog.list_images(PROJECT, image_id=theirs.id) == (0, [])
    assert catalog.list_images("0" * 32) == (0, [])


def test_awaiting_dispatch_is_initialing_without_a_run_oldest_first(catalog: Catalog) -> None:
    projects = [f"{index:032x}" for index in range(5)]
    images = [catalog.register(project, request()) for project in projects]
    catalog.set_status(images[1].id, S.SCHEDULING, flow_run_id="run-1")
    catalog.set_status(images[3].id, S.INITIALING, flow_run_id="run-3")  # dispatched, not yet seen
    catalog.mark_error(images[4].id, "INTERNAL_ERROR: test")

    assert [image.id for image in catalog.awaiting_dispatch()] == [images[0].id, images[2].id]
    assert [image.id for image in catalog.awaiting_dispatch(limit=1)] == [images[0].id]


def test_unfinished_is_in_creation_or_deleting(catalog: Catalog) -> None:
    projects = [f"{index:032x}" for index in range(6)]
    images = [catalog.register(project, request()) for project in projects]
    catalog.set_status(images[1].id, S.SCHEDULING)
    catalog.record_attempt(images[2].id, "run-2")
    catalog.record_attempt(images[3].id, "run-3")
    catalog.mark_active(images[3].id, flow_run_id="run-3", size_mb=1, metadata={})
    catalog.mark_error(images[4].id, "INTERNAL_ERROR: test")
    catalog.mark_error(images[5].id, "INTERNAL_ERROR: test")
    catalog.set_status(images[5].id, S.DELETING)

    unfinished = {image.id: image.status for image in catalog.unfinished()}

    assert unfinished == {
        images[0].id: S.INITIALING,
        images[1].id: S.SCHEDULING,
        images[2].id: S.CREATING,
        images[5].id: S.DELETING,
    }


def test_a_run_whose_image_was_handed_to_another_run_cannot_finish_it(catalog: Catalog) -> None:
    """E.g. a run crashed by mistake: reprocessing gave its image to a newer run meanwhile."""
    image = catalog.register(PROJECT, request())
    catalog.record_attempt(image.id, "run-1")
    catalog.mark_error(image.id, "WORKER_CRASHED: no heartbeat", flow_run_id="run-1")
    catalog.set_status(image.id, S.INITIALING, only_from={S.ERROR})
    catalog.record_attempt(image.id, "run-2")

    with pytest.raises(IllegalTransition, match="run-2"):
        catalog.mark_active(image.id, flow_run_id="run-1", size_mb=1, metadata={})
    assert catalog.mark_error(image.id, "INTERNAL_ERROR: late", flow_run_id="run-1") is None
    assert catalog.get(image.id).status is S.CREATING
    assert catalog.mark_active(image.id, flow_run_id="run-2", size_mb=1, metadata={})
