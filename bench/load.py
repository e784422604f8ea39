"""Images per minute for N images over M projects, beside one image alone, in the same run.

The whole pipeline runs on the embedded stack: API -> dispatcher -> worker -> emulated Vivado ->
image file and log tarball in S3. The baseline is the single-image latency (create to `active`,
one image alone), measured first.

Each project builds its images one after another, as its quota makes it: the next create is sent
at once, refused with 409 AFS.0001 while the previous image is in creation, and sent again once
that image has finished. The ratio is the throughput under load over one image at a time: how
much the projects' builds gain from running side by side on this machine's cores.

    .venv/bin/python -m bench.load [--images N] [--projects M] [--alone K]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import BaseModel

from afs.client import ApiError, FactoryClient
from afs.devstack.embedded import embedded_stack
from afs.models import FpgaImageRequest
from afs.status import ImageStatus
from afs.wire.schemas import ImageItem
from tests.client.conftest import client_config
from tests.factory import Tenant, sample_tarball

QUOTA_EXCEEDED = "AFS.0001"
DCP_KEY = "vu9p/dcp.tar"


class ProjectLoad(BaseModel):
    """What one project's client saw: its images in creation order, each as it finished."""

    project_id: str
    images: list[ImageItem] = []
    latencies: list[float] = []  # seconds from sending the accepted create to seeing it finished
    refusals: int = 0  # creates refused with 409 AFS.0001 while the previous image was in creation


def build_in_turn(
    client: FactoryClient, dcp_location: str, count: int, *, interval: float, timeout: float
) -> ProjectLoad:
    """`count` images of the client's project, each created as soon as the quota admits it."""
    load = ProjectLoad(project_id=client.config.project_id)

    def create(name: str) -> tuple[str, float]:
        sent = time.perf_counter()
        return client.create(FpgaImageRequest(dcp_location=dcp_location, name=name)).id, sent

    def finish(image_id: str, sent: float) -> None:
        load.images.append(client.wait(image_id, interval=interval, timeout=timeout))
        load.latencies.append(time.perf_counter() - sent)

    pending: tuple[str, float] | None = None  # the image created last, not yet seen finished
    for number in range(count):
        try:
            created = create(f"load-{number}")
        except ApiError as refused:
            if refused.code != QUOTA_EXCEEDED or pending is None:
                raise
            load.refusals += 1
            finish(*pending)
            pending = None
            # Another name: the same signed bytes again within a second would be a replay.
            created = create(f"load-{number}-again")
        if pending is not None:  # admitted at once: the previous image had finished already
            finish(*pending)
        pending = created
    if pending is not None:
        finish(*pending)
    return load


def push_images(
    api_url: str,
    tenants: list[Tenant],
    per_project: int,
    *,
    interval: float = 1.0,
    timeout: float = 3600,
) -> list[ProjectLoad]:
    """Each tenant builds `per_project` images of its tarball at DCP_KEY, all tenants at once.

    `interval` is how often each client polls its image's status.
    """

    def run(tenant: Tenant) -> ProjectLoad:
        with FactoryClient(client_config(api_url, tenant)) as client:
            dcp_location = f"{tenant.bucket}:{DCP_KEY}"
            return build_in_turn(
                client, dcp_location, per_project, interval=interval, timeout=timeout
            )

    with ThreadPoolExecutor(len(tenants)) as pool:
        return list(pool.map(run, tenants))


def tenants_with_tarball(endpoint: str, count: int, tarball: bytes) -> list[Tenant]:
    tenants = [Tenant(endpoint) for _ in range(count)]
    for tenant in tenants:
        tenant.put(DCP_KEY, tarball)
    return tenants


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24, help="rounded up to whole projects")
    parser.add_argument("--projects", type=int, default=8)
    parser.add_argument("--alone", type=int, default=3, help="single images timed first")
    args = parser.parse_args()
    per_project = -(-args.images // args.projects)
    built = per_project * args.projects
    with (
        tempfile.TemporaryDirectory(prefix="afs-bench-") as home,
        embedded_stack(Path(home)) as stack,
    ):
        tarball = sample_tarball(Path(home))
        # Polled often: the poll's slack would otherwise count in a latency of a few seconds.
        alone_tenant = tenants_with_tarball(stack.obs_endpoint, 1, tarball)
        alone = push_images(stack.api_url, alone_tenant, args.alone, interval=0.1)[0]
        tenants = tenants_with_tarball(stack.obs_endpoint, args.projects, tarball)
        begun = time.perf_counter()
        loads = push_images(stack.api_url, tenants, per_project)
        elapsed = time.perf_counter() - begun
    images = [item for load in [alone, *loads] for item in load.images]
    not_active = sum(item.status is not ImageStatus.ACTIVE for item in images)
    alone_s = statistics.median(alone.latencies)
    under_load = [latency for load in loads for latency in load.latencies]
    loaded_s, slowest_s = statistics.median(under_load), max(under_load)
    one_at_a_time, per_minute = 60 / alone_s, built / elapsed * 60
    print(f"{built} images over {args.projects} projects; the baseline is {args.alone} images "
          "built alone, one after another, first in the same run")  # fmt: skip
    print(f"one image alone, create to active (baseline)  median {alone_s:6.1f} s  "
          f"= {one_at_a_time:6.2f} images/min")  # fmt: skip
    print(f"under load, each image create to active       median {loaded_s:6.1f} s  "
          f"max {slowest_s:6.1f} s")  # fmt: skip
    print(f"under load, {built} images in {elapsed:6.1f} s{'':17}= {per_minute:6.2f} images/min")
    print(f"ratio images/min under load / one at a time: {per_minute / one_at_a_time:.2f}"
          f"   ({not_active} images not active)")  # fmt: skip
    figures = [
        {"figure": f"images/min, {built} images over {args.projects} projects",
         "value": per_minute, "unit": "images/min",
         "baseline": "one image at a time (60 s / single-image latency)",
         "baseline_value": one_at_a_time, "note": f"{not_active} images not active"},
        {"figure": "create to active under load, median", "value": loaded_s, "unit": "s",
         "baseline": "one image alone, median", "baseline_value": alone_s},
    ]  # fmt: skip
    print(json.dumps({"figures": figures}))
    return 1 if not_active else 0


if __name__ == "__main__":
    sys.exit(main())
