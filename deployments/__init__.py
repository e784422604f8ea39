"""The factory's deployments, defined in code: one place lists them and how they are scheduled."""

from __future__ import annotations

from datetime import timedelta

from prefect.deployments.runner import EntrypointType, RunnerDeployment

from flows.create_fpga_image import create_fpga_image
from flows.delete_fpga_image import delete_fpga_image
from flows.reconcile import reconcile_fpga_images
from flows.reprocess import reprocess_fpga_images

CREATE_DEPLOYMENT = "create-fpga-image"
CREATE_DEPLOYMENT_PATH = f"{create_fpga_image.name}/{CREATE_DEPLOYMENT}"
DELETE_DEPLOYMENT = "delete-fpga-image"
DELETE_DEPLOYMENT_PATH = f"{delete_fpga_image.name}/{DELETE_DEPLOYMENT}"
RECONCILE_EVERY = timedelta(minutes=1)
REPROCESS_EVERY = timedelta(minutes=15)


def factory_deployments() -> list[RunnerDeployment]:
    """The deployments a build host serves."""
    return [
        create_fpga_image.to_deployment(
            CREATE_DEPLOYMENT,
            description="Build one FPGA image. Leave image_id empty to register a new image.",
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
        delete_fpga_image.to_deployment(
            DELETE_DEPLOYMENT,
            description="Remove an image marked deleting (started by the dispatcher).",
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
        reconcile_fpga_images.to_deployment(
            "reconcile-fpga-images",
            interval=RECONCILE_EVERY,
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
        reprocess_fpga_images.to_deployment(
            "reprocess-fpga-images",
            interval=REPROCESS_EVERY,
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
    ]
