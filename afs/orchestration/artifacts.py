"""A build's artifacts in Prefect, keyed by image so the Artifacts page has one line per image:
the summary (markdown), the steps' durations (table), the log tarball (link), and Vivado's
progress while it runs."""

from __future__ import annotations

import logging
from typing import cast
from uuid import UUID

from afs.build.summary import BuildSummary, vivado_phase
from afs.orchestration.naming import image_run_name

# Not under `prefect`: kept in the worker's log, never in the run's or the tenant's.
log = logging.getLogger("afs.operator")


def artifact_key(image_id: str, part: str = "") -> str:
    return f"{image_run_name(image_id)}{f'-{part}' if part else ''}"


def summary_artifact_id(image_id: str) -> str:
    """The id of the image's summary artifact (its page is /artifacts/artifact/<id>)."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    only_this = ArtifactFilter(key=ArtifactFilterKey(any_=[artifact_key(image_id)]))
    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(artifact_filter=only_this)
    return str(artifact.id)


def publish_summary(summary: BuildSummary) -> None:
    """The build's summary, steps and log tarball; a failure here never fails the build."""
    from prefect.artifacts import (
        create_link_artifact,
        create_markdown_artifact,
        create_table_artifact,
    )

    image_id = summary.image_id
    try:
        create_markdown_artifact(
            summary.to_markdown(),
            key=artifact_key(image_id),
            description=summary.failure or f"image {image_id}: {summary.request.name}",
        )
        create_table_artifact(
            [step.model_dump() for step in summary.steps],
            key=artifact_key(image_id, "steps"),
            description="each step's duration in seconds",
        )
        if summary.log_tarball:
            bucket, _, key = summary.log_tarball.partition(":")
            create_link_artifact(
                f"s3://{bucket}/{key}",
                link_text=summary.log_tarball,
                key=artifact_key(image_id, "logs"),
                description="the log tarball in the tenant's bucket",
            )
    except Exception:
        log.warning("cannot publish the artifacts of image %s", image_id, exc_info=True)


class VivadoProgress:
    """A progress artifact moved on as Vivado's log says each phase of the build ended."""

    def __init__(self, image_id: str) -> None:
        from prefect.artifacts import create_progress_artifact

        self._id: UUID | None = None
        try:
            # Called from synchronous code, it returns the UUID, not a coroutine.
            self._id = cast(
                "UUID",
                create_progress_artifact(
                    0.0, key=artifact_key(image_id, "progress"), description="Vivado started"
                ),
            )
        except Exception:
            log.warning("cannot publish the progress of image %s", image_id, exc_info=True)

    def saw(self, line: str) -> None:
        from prefect.artifacts import update_progress_artifact

        phase = vivado_phase(line)
        if phase is None or self._id is None:
            return
        description, progress = phase
        try:
            update_progress_artifact(self._id, progress * 100, description=description)
        except Exception:
            log.warning("cannot update a build's progress", exc_info=True)
