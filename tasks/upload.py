from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger

from afs.build.steps import BuildJob, ImageFile, ImageJob, deliver_logs, store_image
from afs.build.steps import discard_image as remove_image_file
from afs.build.workspace import Workspace
from afs.settings import get_settings
from afs.tasks import build_step, storage_step


@storage_step("upload-image")
def upload_image(
    job: ImageJob, workspace: Workspace, metadata: dict[str, Any], bitstream: Path
) -> ImageFile:
    image = store_image(get_settings(), job, workspace, metadata, bitstream)
    get_run_logger().info("image file stored at %s (%d MB)", image.location, image.size_mb)
    return image


@build_step("discard-image")
def discard_image(job: ImageJob, image: ImageFile) -> None:
    remove_image_file(get_settings(), image)
    get_run_logger().info(
        "image file %s removed: image %s is not active", image.location, job.image_id
    )


@storage_step("upload-logs")
def upload_logs(job: BuildJob, tarball: Path) -> str:
    location = deliver_logs(get_settings(), job, tarball)
    get_run_logger().info("log tarball uploaded to %s", location)
    return location
