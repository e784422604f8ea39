"""Time to `active` of each kind of image, against an emulated Vivado build in the same run.

On the embedded stack, one after another, each image from the API's answer to `active`:
  - a vivado flow image (the kit's DPDK flow; the emulated Vivado 2017.2 build): the baseline;
  - an sdaccel flow image (the kit's OpenCL flow: the checkpoint in its xclbin, built by the
    emulated Vivado 2017.4.op, as the real kit's is);
  - a registered bitstream (the legacy `POST /v1/.../fpga_image`: saved, never built).
Target: the registered bitstream and the sdaccel image within 15 s each (the sdaccel image is a
Vivado build like the baseline, so its ratio to it, not the 15 s, is what it is held to).

    .venv/bin/python -m bench.kinds_to_active [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from afs.client import FactoryClient
from afs.devstack.embedded import embedded_stack
from afs.devstack.samples import sample_partial_bitstream, xclbin_file
from afs.models import FpgaImageRequest, RegisterFpgaImageRequest
from afs.status import ImageStatus
from afs.wire.schemas import CreatedImage
from tests.client.conftest import client_config
from tests.factory import Tenant, sample_tarball

TARGET_SECONDS = 15.0


def _to_active(client: FactoryClient, ask: Callable[[], CreatedImage]) -> float:
    """Seconds from the API's answer to `active`, polled every 0.1 s."""
    created = ask()
    answered = time.monotonic()
    item = client.wait(created.id, seen=created.status, interval=0.1, timeout=600)
    assert item.status is ImageStatus.ACTIVE, item.message
    return time.monotonic() - answered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="images of each kind")
    args = parser.parse_args()
    timings: dict[str, list[float]] = {"vivado": [], "sdaccel": [], "registered": []}
    with (
        tempfile.TemporaryDirectory(prefix="afs-bench-") as home,
        embedded_stack(Path(home)) as stack,
    ):
        tenant = Tenant(stack.obs_endpoint)
        for flow in ("vivado", "sdaccel"):
            (Path(home) / flow).mkdir()
            tenant.put(f"{flow}.tar", sample_tarball(Path(home) / flow, flow=flow))
        location = tenant.put("vadd.xclbin", xclbin_file(sample_partial_bitstream()))
        asks = {
            flow: FpgaImageRequest(dcp_location=f"{tenant.bucket}:{flow}.tar", name=flow)
            for flow in ("vivado", "sdaccel")
        }
        registration = RegisterFpgaImageRequest(location=location, name="registered", metadata={})
        with FactoryClient(client_config(stack.api_url, tenant)) as client:
            for _ in range(args.rounds):  # in turn, so that each kind meets the same machine
                for kind in timings:
                    ask = (
                        (lambda: client.register(registration))
                        if kind == "registered"
                        else (lambda kind=kind: client.create(asks[kind]))
                    )
                    timings[kind].append(_to_active(client, ask))
    baseline = statistics.median(timings["vivado"])
    figures = []
    for kind in ("sdaccel", "registered"):
        p50 = statistics.median(timings[kind])
        verdict = "within" if p50 <= TARGET_SECONDS else "OVER"
        print(f"{kind:10} API 200 -> active p50 {p50:6.2f} s ({verdict} {TARGET_SECONDS:g} s); "
              f"vivado flow build p50 {baseline:6.2f} s; ratio {p50 / baseline:.2f}")  # fmt: skip
        figures.append({
            "figure": f"{kind} image, API 200 -> active, p50", "value": p50, "unit": "s",
            "baseline": "vivado flow image (emulated Vivado build), API 200 -> active, p50",
            "baseline_value": baseline, "note": f"{verdict} the {TARGET_SECONDS:g} s target",
        })  # fmt: skip
    print(
        f"each kind, in s: {json.dumps({k: [round(t, 2) for t in v] for k, v in timings.items()})}"
    )
    print(json.dumps({"figures": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
