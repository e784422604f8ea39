"""Reconcile and reprocess runs say in the Runs list what they did, tagged as maintenance."""

from __future__ import annotations

import re

import pytest

from afs.flows.reconcile import reconcile_fpga_images
from afs.flows.reprocess import reprocess_fpga_images


@pytest.mark.parametrize(
    ("flow", "name"),
    [
        (reconcile_fpga_images, r"reconcile: \d+ changed"),
        (reprocess_fpga_images, r"reprocess: \d+ requeued"),
    ],
)
def test_a_maintenance_run_is_named_after_what_it_did(factory: None, flow, name: str) -> None:
    from prefect import get_client

    state = flow(return_state=True)

    assert state.is_completed()
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
    assert re.fullmatch(name, run.name), run.name
