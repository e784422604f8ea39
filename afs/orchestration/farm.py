"""The build farm's Prefect names: pools, one build queue per tool version, the packaging queue of
registrations, the licence limit.

`deployments` creates them, the dispatcher routes runs by them, `afs worker` serves them.
"""

from __future__ import annotations

from afs.settings import Settings

LICENCE_LIMIT = "vivado-licences"
# Registered bitstreams are saved, not built: no Vivado, no licence, and every host serves this
# queue with slots of its own, so a registration never waits behind a Vivado build.
PACKAGING_QUEUE = "bitstream-packaging"
PACKAGING_LIMIT = 4


def build_queue(tool_version: str) -> str:
    return f"vivado-{tool_version}"


def build_queues(tool_versions: list[str]) -> list[str]:
    return [build_queue(version) for version in tool_versions]


def default_build_queue(settings: Settings) -> str:
    """Where a run goes whose tool version is unknown until it reads its tarball (a run from
    the UI, a tarball the dispatcher cannot read plainly)."""
    return build_queue(settings.tool_versions[0])
