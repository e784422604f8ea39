"""The image file (AEI): a header, metadata JSON, the partial bitstream, and a sha256 trailer.

Layout, all integers big-endian:
    header     struct `>8s i i 64s`: b"AEIv1.0" NUL-padded to 8 bytes, metadata length,
               bitstream length, 64 reserved zero bytes (80 bytes)
    metadata   JSON, UTF-8, keys sorted, padded with spaces to a multiple of 4 bytes
    bitstream  the partial bitstream, as Vivado wrote it
    trailer    the 32-byte sha256 of header + metadata + bitstream

The header's metadata length is the padded length, so a reader takes exactly that many bytes and
parses them as they are (JSON ignores trailing spaces), and the bitstream starts 4-byte aligned.
`AeiImage.sha256` is the trailer in hex: it identifies the image file's content.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from afs.errors import AfsError
from afs.files import atomic_write

MAGIC = b"AEIv1.0"
HEADER = struct.Struct(">8s i i 64s")
DIGEST_BYTES = 32
ALIGNMENT = 4
MAX_LENGTH = 2**31 - 1  # the header's lengths are signed 32-bit integers
_CHUNK = 1 << 20


class AeiError(AfsError):
    """The file is not a valid AEI image, or an image cannot be written; the message says why."""


class AeiImage(BaseModel):
    metadata: dict[str, Any]
    bitstream_length: int
    sha256: str


def _metadata_bytes(metadata: dict[str, Any]) -> bytes:
    try:
        data = json.dumps(metadata, sort_keys=True, ensure_ascii=False, allow_nan=False).encode(
            "utf-8"
        )
    except (TypeError, ValueError) as exc:
        raise AeiError(f"metadata is not JSON-serialisable ({exc})") from exc
    return data + b" " * (-len(data) % ALIGNMENT)


def write_aei(path: Path, metadata: dict[str, Any], bitstream: Path) -> AeiImage:
    """Write an image file from `metadata` and the bitstream file (streamed; temp file + rename)."""
    meta = _metadata_bytes(metadata)
    bitstream_length = bitstream.stat().st_size
    if len(meta) > MAX_LENGTH or bitstream_length > MAX_LENGTH:
        raise AeiError(f"metadata or bitstream {bitstream.name} exceeds {MAX_LENGTH} bytes")
    header = HEADER.pack(MAGIC, len(meta), bitstream_length, bytes(64))
    digest = hashlib.sha256(header + meta)
    with atomic_write(path) as out, bitstream.open("rb") as source:
        out.write(header + meta)
        copied = 0
        while chunk := source.read(_CHUNK):
            copied += len(chunk)
            digest.update(chunk)
            out.write(chunk)
        # The header already promised a length: a file that changed meanwhile must not pass.
        if copied != bitstream_length:
            raise AeiError(
                f"{bitstream.name} changed while being read ({copied} != {bitstream_length})"
            )
        out.write(digest.digest())
    return AeiImage(metadata=metadata, bitstream_length=bitstream_length, sha256=digest.hexdigest())


def read_aei(path: Path) -> AeiImage:
    """Read and verify an image file: magic, lengths, alignment, trailing digest, metadata JSON."""
    size = path.stat().st_size
    with path.open("rb") as source:
        header = source.read(HEADER.size)
        if len(header) < HEADER.size:
            raise AeiError(
                f"{path.name} is {size} bytes, shorter than the {HEADER.size}-byte header"
            )
        magic, meta_length, bitstream_length, _reserved = HEADER.unpack(header)
        if magic != MAGIC.ljust(8, b"\0"):
            raise AeiError(f"{path.name} does not start with {MAGIC!r} (found {magic!r})")
        if meta_length < 0 or bitstream_length < 0 or meta_length % ALIGNMENT:
            raise AeiError(
                f"{path.name} has invalid lengths: metadata {meta_length} (a multiple of "
                f"{ALIGNMENT} is required), bitstream {bitstream_length}"
            )
        expected = HEADER.size + meta_length + bitstream_length + DIGEST_BYTES
        if size != expected:
            raise AeiError(f"{path.name} is {size} bytes, its header says {expected}")
        meta = source.read(meta_length)
        digest = hashlib.sha256(header + meta)
        remaining = bitstream_length
        while remaining:
            chunk = source.read(min(_CHUNK, remaining))
            remaining -= len(chunk)
            digest.update(chunk)
        trailer = source.read(DIGEST_BYTES)
    if not hmac.compare_digest(trailer, digest.digest()):
        raise AeiError(
            f"{path.name} is corrupt: sha256 {digest.hexdigest()}, trailer says {trailer.hex()}"
        )
    try:
        metadata = json.loads(meta.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AeiError(f"{path.name} metadata is not UTF-8 JSON ({exc})") from exc
    if not isinstance(metadata, dict):
        raise AeiError(f"{path.name} metadata is not a JSON object")
    return AeiImage(metadata=metadata, bitstream_length=bitstream_length, sha256=trailer.hex())


def read_aei_bitstream(path: Path) -> bytes:
    """The verified bitstream of an image file, in memory (for small files and tests)."""
    image = read_aei(path)
    with path.open("rb") as source:
        meta_length = HEADER.unpack(source.read(HEADER.size))[1]
        source.seek(HEADER.size + meta_length)
        return source.read(image.bitstream_length)
