"""A typed client of the factory's HTTP API, signing every request as the cloud's SDK does.

The API calls (create, list, show, delete, wait) are signed with the project's access key pair
(afs.wire.signing, `SDK-HMAC-SHA256 Access=...`) and sent with the standard library's urllib
(proxies from the environment, as any HTTP client): a tenant's CLI starts without loading an HTTP
package of a third of a second. Uploading a DCP tarball and downloading a log
tarball go straight to the tenant's bucket with the tenant's own storage keys: the factory never
hands out storage access. Where the keys come from: afs/client/config.py.
"""

from __future__ import annotations

import http.client
import json
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, ValidationError

from afs.client.config import ClientConfig
from afs.errors import AfsError, ApiErrorCode
from afs.models import FpgaImageRequest, RegisterFpgaImageRequest, log_tarball_key
from afs.status import FINISHED, ImageStatus
from afs.wire import signing
from afs.wire.errors import ErrorBody
from afs.wire.schemas import CreatedImage, CreateImageResponse, ImageItem, ImageList

# Log tarballs hold logs and reports, not designs; anything bigger is not one of ours.
MAX_LOG_TARBALL_BYTES = 1024**3


class ApiError(AfsError):
    """The API answered an error: the cloud's error code (None if the body was not the cloud's
    error body, e.g. a proxy's page) and its message."""

    def __init__(self, status_code: int, code: str | None, message: str) -> None:
        super().__init__(f"{code or 'HTTP error'} (HTTP {status_code}): {message}")
        self.status_code = status_code
        self.code = code
        self.message = message


class FpgaImageNotFound(ApiError):
    """The image is not in the project's list (the code the API uses for a missing image)."""

    def __init__(self, project_id: str, image_id: str) -> None:
        code, status_code, _ = ApiErrorCode.IMAGE_NOT_FOUND.value
        super().__init__(status_code, code, f"no FPGA image {image_id} in project {project_id}")


class ApiUnreachable(AfsError):
    """The API could not be reached (connection refused, timeout, broken answer)."""


class LogMember(BaseModel):
    name: str
    size: int


class LogTarball(BaseModel):
    location: str  # bucket:key
    path: Path
    members: list[LogMember]


class WaitTimedOut(AfsError, TimeoutError):
    """`wait` gave up: the image had not finished within its timeout."""


class NoLogTarball(AfsError):
    """The image has no log tarball: a registered bitstream is saved, not built."""


def log_tarball_location(item: ImageItem) -> tuple[str, str] | None:
    """(bucket, key) of the image's `{image_id}_log.tar` in the tenant's bucket; None for a
    registered image, which has none."""
    if item.log_directory is None:
        return None
    bucket, _, directory = item.log_directory.partition(":")
    return bucket, log_tarball_key(directory, item.id)


class FactoryClient:
    """The project's view of the factory. Use as a context manager, or call close()."""

    def __init__(self, config: ClientConfig, *, timeout: float = 30) -> None:
        self.config = config
        self._base_url = config.api_url.rstrip("/")
        self._timeout = timeout
        self._opener = urllib.request.build_opener()

    def __enter__(self) -> FactoryClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Nothing stays open between calls; kept so that the client is a context manager."""

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json_body: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """Send one signed request; the answer's body, or ApiError / ApiUnreachable."""
        url = self._base_url + path + (f"?{urlencode(params)}" if params else "")
        body = None if json_body is None else json.dumps(json_body).encode()
        content_type = {} if body is None else {"Content-Type": "application/json"}
        sent = {**(headers or {}), **content_type}
        sent |= signing.sign(
            method,
            url,
            content_type,
            body or b"",
            access_key=self.config.access_key,
            secret_key=self.config.secret_key.get_secret_value(),
        )
        # The configuration admits only http(s) URLs (ClientConfig.api_url).
        request = urllib.request.Request(url, data=body, headers=sent, method=method)  # noqa: S310
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                content: bytes = response.read()
                return content
        except urllib.error.HTTPError as answer:
            status, content = answer.code, answer.read()
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiUnreachable(
                f"cannot reach the factory API at {self.config.api_url}: {reason}"
            ) from None
        try:
            error = ErrorBody.model_validate_json(content).error
        except ValidationError:
            text = content[:500].decode("utf-8", errors="replace")
            raise ApiError(status, None, text) from None
        raise ApiError(status, error.code, error.message)

    @property
    def _images(self) -> str:
        return f"/v1/{self.config.project_id}/cloudservers/fpga_image"

    def create(self, request: FpgaImageRequest, *, client_token: str | None = None) -> CreatedImage:
        """Ask for an image of the DCP tarball at `request.dcp_location` (already uploaded)."""
        body = {"fpga_image": request.model_dump(mode="json", exclude_none=True)}
        headers = {"X-Client-Token": client_token} if client_token else {}
        answer = self._call(
            "POST",
            f"/v2/{self.config.project_id}/cloudservers/fpga_image",
            json_body=body,
            headers=headers,
        )
        return CreateImageResponse.model_validate_json(answer).fpga_image

    def register(
        self, request: RegisterFpgaImageRequest, *, client_token: str | None = None
    ) -> CreatedImage:
        """Register the finished bitstream at `request.location` (already uploaded) as an image:
        the legacy `POST /v1/.../fpga_image`; it is `saving`, then `active` or `error`."""
        body = {"fpga_image": request.model_dump(mode="json", exclude_none=True)}
        headers = {"X-Client-Token": client_token} if client_token else {}
        answer = self._call("POST", self._images, json_body=body, headers=headers)
        return CreateImageResponse.model_validate_json(answer).fpga_image

    def list(self, *, page: int | None = None, size: int | None = None) -> ImageList:
        """The project's images, newest first; `page` and `size` go together."""
        params = {} if page is None and size is None else {"page": page, "size": size}
        return ImageList.model_validate_json(
            self._call("GET", f"{self._images}/detail", params=params)
        )

    def show(self, image_id: str) -> ImageItem:
        answer = self._call("GET", f"{self._images}/detail", params={"fpga_image_id": image_id})
        listed = ImageList.model_validate_json(answer)
        if not listed.fpgaimages:
            raise FpgaImageNotFound(self.config.project_id, image_id)
        return listed.fpgaimages[0]

    def delete(self, image_id: str) -> None:
        """The image becomes `deleting` at once and disappears once its file is removed."""
        self._call("DELETE", f"{self._images}/{image_id}")

    def wait(
        self,
        image_id: str,
        *,
        seen: ImageStatus | None = None,
        on_change: Callable[[ImageItem], None] | None = None,
        interval: float = 1.0,
        timeout: float = 4 * 3600,
    ) -> ImageItem:
        """Poll until the image is `active` or `error`; `on_change` sees each new status.

        `seen` is a status the caller already reported (e.g. create's `initialing`), so it is
        not reported twice.
        """
        deadline = time.monotonic() + timeout
        while True:
            item = self.show(image_id)
            if item.status != seen:
                seen = item.status
                if on_change is not None:
                    on_change(item)
            if item.status in FINISHED:
                return item
            if time.monotonic() > deadline:
                raise WaitTimedOut(f"image {image_id} still {item.status.value} after {timeout} s")
            time.sleep(interval)

    def _storage_client(self) -> Any:
        from afs import storage  # boto3 costs a third of a second: only commands that move files

        return storage.s3_client(self.config.require_storage())

    def upload(
        self, path: Path, dcp_location: str, *, progress: Callable[[int], None] | None = None
    ) -> None:
        """Put a DCP tarball at `bucket:key` in the tenant's bucket (multipart above 8 MiB)."""
        from afs import storage

        bucket, _, key = dcp_location.partition(":")
        storage.upload_file(self._storage_client(), path, bucket, key, progress=progress)

    def logs(self, image_id: str, directory: Path) -> LogTarball:
        """Download the image's log tarball into `directory` and list its members."""
        from afs import storage

        location = log_tarball_location(self.show(image_id))
        if location is None:
            raise NoLogTarball(f"image {image_id} is a registered bitstream: it has no log tarball")
        bucket, key = location
        destination = directory / key.rpartition("/")[2]
        storage.download_object(
            self._storage_client(), bucket, key, destination, max_bytes=MAX_LOG_TARBALL_BYTES
        )
        with tarfile.open(destination) as archive:
            members = [
                LogMember(name=member.name, size=member.size)
                for member in archive.getmembers()
                if member.isfile()
            ]
        return LogTarball(location=f"{bucket}:{key}", path=destination, members=members)
