"""Scheduled: rebuild images that failed for a transient cause (afs.orchestration.reprocess)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from afs.catalog import default_catalog
from afs.orchestration.naming import name_this_run
from afs.orchestration.reprocess import requeue_transient_failures
from afs.settings import get_settings


@flow(name="reprocess-fpga-images", persist_result=False)
def reprocess_fpga_images() -> list[str]:
    requeued = requeue_transient_failures(
        default_catalog(), max_attempts=get_settings().max_build_attempts
    )
    get_run_logger().info("requeued %d image(s): %s", len(requeued), ", ".join(requeued))
    name_this_run(f"reprocess: {len(requeued)} requeued")
    return requeued
