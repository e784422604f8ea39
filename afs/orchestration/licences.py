"""Floating Vivado licences, a Prefect global concurrency limit held only while Vivado runs."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from afs.orchestration.farm import LICENCE_LIMIT

# A killed build's licence comes back when its lease runs out unrenewed.
LICENCE_LEASE_SECONDS = 60
# How long a build waits for Prefect to answer its request for a licence (a restart, a network
# blip) before it fails for the factory's own reason, which reprocessing retries.
PREFECT_OUTAGE_SECONDS = 600
_LONGEST_WAIT_SECONDS = 30.0


@contextlib.contextmanager
def vivado_licence(say: Callable[[str], None]) -> Iterator[None]:
    """Hold one licence for the block. Once held, a Prefect outage does not end the block: the
    lease is renewed when Prefect is back (Prefect's non-strict leases)."""
    from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
    from prefect.concurrency.sync import concurrency

    say(f"waiting for a Vivado licence (global concurrency limit {LICENCE_LIMIT})")
    deadline = time.monotonic() + PREFECT_OUTAGE_SECONDS
    wait = 1.0
    with contextlib.ExitStack() as held:
        while True:
            try:
                held.enter_context(
                    concurrency(LICENCE_LIMIT, occupy=1, lease_duration=LICENCE_LEASE_SECONDS)
                )
                break
            except ConcurrencySlotAcquisitionError:
                if time.monotonic() + wait > deadline:
                    raise
                say(f"Prefect did not answer the request for a licence; asking again in {wait:g} s")
                time.sleep(wait)
                wait = min(wait * 2, _LONGEST_WAIT_SECONDS)
        yield
