"""A build asking for a Vivado licence waits out a Prefect outage, within a bound."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError

from afs.orchestration import licences


class Prefect:
    """Stands in for Prefect's `concurrency`: down for `outage` requests, then grants."""

    def __init__(self, outage: int) -> None:
        self.outage = outage
        self.asked = 0
        self.held = 0

    @contextlib.contextmanager
    def concurrency(self, *args: object, **kwargs: object) -> Iterator[None]:
        self.asked += 1
        if self.asked <= self.outage:
            raise ConcurrencySlotAcquisitionError("Unable to acquire concurrency slots")
        self.held += 1
        try:
            yield
        finally:
            self.held -= 1


@pytest.fixture
def prefect(monkeypatch: pytest.MonkeyPatch) -> Prefect:
    monkeypatch.setattr(licences.time, "sleep", lambda seconds: None)
    return Prefect(outage=3)


def test_the_licence_is_asked_for_again_until_prefect_answers(
    prefect: Prefect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("prefect.concurrency.sync.concurrency", prefect.concurrency)
    said: list[str] = []

    with licences.vivado_licence(said.append):
        assert prefect.held == 1, "Vivado runs only once the licence is held"

    assert (prefect.asked, prefect.held) == (4, 0)
    assert sum("did not answer" in line for line in said) == 3


def test_an_outage_longer_than_the_bound_fails_the_step(
    prefect: Prefect, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefect.outage = 10_000
    monkeypatch.setattr("prefect.concurrency.sync.concurrency", prefect.concurrency)
    monkeypatch.setattr(licences, "PREFECT_OUTAGE_SECONDS", 0)

    with pytest.raises(ConcurrencySlotAcquisitionError), licences.vivado_licence(lambda _: None):
        pytest.fail("the block must not run without a licence")
