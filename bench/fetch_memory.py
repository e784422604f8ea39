"""Worker memory while fetching a DCP tarball: streaming keeps it flat whatever the object's size.

A fresh process downloads (sha256 in the same pass) first a 1 MB object, the baseline, then a
large one, from moto's S3 server over HTTP; each prints its own peak RSS.

    .venv/bin/python bench/fetch_memory.py [--size-mb 500]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

BUCKET = "bench-fetch"
KEY_FREE = SecretStr("bench")


def client(endpoint: str):
    from afs.models import StorageCredentials
    from afs.storage import s3_client

    return s3_client(
        StorageCredentials(endpoint=endpoint, access_key=KEY_FREE, secret_key=KEY_FREE)
    )


def one_fetch(endpoint: str, key: str, work: Path) -> dict[str, float]:
    from afs.storage import download_object

    started = time.perf_counter()
    download = download_object(client(endpoint), BUCKET, key, work / "input.tar", max_bytes=2**40)
    return {
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "size_mb": download.size / 2**20,
        "sha256": download.sha256,
    }


def upload(endpoint: str, key: str, size_mb: int, work: Path) -> str:
    from afs.storage import ensure_bucket, upload_file

    path = work / key
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size_mb):
            block = os.urandom(2**20)
            digest.update(block)
            out.write(block)
    ensure_bucket(client(endpoint), BUCKET)
    upload_file(client(endpoint), path, BUCKET, key)
    path.unlink()
    return digest.hexdigest()


def measure(endpoint: str, key: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="afs-bench-") as work:
        completed = subprocess.run(
            [sys.executable, __file__, "--child", endpoint, key, work],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--child", nargs=3, metavar=("ENDPOINT", "KEY", "WORK"))
    args = parser.parse_args()
    if args.child:
        endpoint, key, work = args.child
        print(json.dumps(one_fetch(endpoint, key, Path(work))))
        return 0

    from afs.devstack.localstack import s3_server

    with tempfile.TemporaryDirectory(prefix="afs-bench-") as work, s3_server(Path(work)) as s3:
        expected = {
            "small.tar": upload(s3, "small.tar", 1, Path(work)),
            "large.tar": upload(s3, "large.tar", args.size_mb, Path(work)),
        }
        baseline, large = measure(s3, "small.tar"), measure(s3, "large.tar")
    for label, result, key in (("baseline", baseline, "small.tar"), ("large", large, "large.tar")):
        assert result["sha256"] == expected[key], "the streamed sha256 must match the object"
        print(
            f"{label:8}: {result['size_mb']:7.1f} MB in {result['seconds']:6.1f} s, "
            f"peak RSS {result['peak_rss_mb']:6.1f} MB"
        )
    growth = large["peak_rss_mb"] - baseline["peak_rss_mb"]
    print(
        f"peak RSS ratio large/baseline: {large['peak_rss_mb'] / baseline['peak_rss_mb']:.3f}; "
        f"growth {growth:+.1f} MB for {large['size_mb'] - baseline['size_mb']:.0f} MB more input"
    )
    figure = {
        "figure": f"peak RSS fetching {large['size_mb']:.0f} MB", "unit": "MB",
        "value": large["peak_rss_mb"], "baseline": f"the same, {baseline['size_mb']:.0f} MB",
        "baseline_value": baseline["peak_rss_mb"], "note": f"growth {growth:+.1f} MB",
    }  # fmt: skip
    print(json.dumps({"figures": [figure]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
