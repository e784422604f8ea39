"""FPGA images: create (v2), the legacy register (v1), list and detail (v1), delete (v1)."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from afs import storage
from afs.api.auth import Caller, CallerDep, CreateCallerDep, replay_refused
from afs.api.body import openapi_body, parse_json_body
from afs.api.problems import ApiProblem, error_responses
from afs.api.services import Services, services
from afs.catalog import ClientToken
from afs.errors import ApiErrorCode as E
from afs.models import (
    IMAGE_ID_PATTERN,
    PROJECT_ID_PATTERN,
    CreateFpgaImageBody,
    RegisterFpgaImageBody,
    RegisterFpgaImageRequest,
)
from afs.tenants import BucketNotOwned, TenantNotConfigured, check_dcp_readable
from afs.wire.schemas import (
    CreatedImage,
    CreateImageResponse,
    ImageList,
    ListQuery,
    PagedQuery,
)

router = APIRouter(tags=["fpga images"])
ServicesDep = Annotated[Services, Depends(services)]
ProjectId = Annotated[str, Path(pattern=PROJECT_ID_PATTERN, description="32 lowercase hex")]
ImageId = Annotated[str, Path(pattern=IMAGE_ID_PATTERN, description="32 lowercase hex")]
_CLIENT_TOKEN = re.compile(r"[\x21-\x7e]{1,64}")
ClientTokenHeader = Annotated[
    str | None,
    Header(
        alias="X-Client-Token",
        description="1-64 printable ASCII characters; the same token and body return the same "
        "image, the same token with another body is 409 AFS.0008",
    ),
]


AnyBody = CreateFpgaImageBody | RegisterFpgaImageBody


def _client_token(value: str | None, body: AnyBody) -> ClientToken | None:
    if value is None:
        return None
    if not _CLIENT_TOKEN.fullmatch(value):
        raise ApiProblem(
            E.INVALID_PARAMETER,
            "header X-Client-Token: must be 1-64 printable ASCII characters without spaces",
        )
    # The digest of the validated request, so formatting or key order does not matter.
    digest = hashlib.sha256(body.fpga_image.model_dump_json().encode()).hexdigest()
    return ClientToken(token=value, body_sha256=digest)


def _check_dcp(services: Services, caller: Caller, body: AnyBody) -> None:
    """The DCP (a registered file) must be in one of the project's buckets and readable with
    the project's keys."""
    request = body.fpga_image
    if isinstance(request, RegisterFpgaImageRequest):
        field, bucket, key = "location", request.bucket, request.key
    else:
        field, bucket, key = "dcp_location", request.dcp_bucket, request.dcp_key
    where = f"fpga_image.{field}: object {key!r} in bucket {bucket!r}"
    try:
        check_dcp_readable(services.settings, caller.project_id, bucket, key)
    except (TenantNotConfigured, BucketNotOwned):
        raise ApiProblem(
            E.BUCKET_NOT_OWNED,
            f"{where}: bucket {bucket!r} is not one of project {caller.project_id}'s buckets",
        ) from None
    except storage.ObjectInaccessible as exc:
        raise ApiProblem(E.DCP_NOT_FOUND, f"{where}: cannot be read: {exc.reason}") from None
    except storage.StorageUnavailable as exc:
        raise ApiProblem(E.STORAGE_UNAVAILABLE, f"{where}: {exc}") from None


# What a create and a registration may answer besides the errors of every request.
_CREATE_ERRORS = error_responses(
    E.QUOTA_EXCEEDED,
    E.BUCKET_NOT_OWNED,
    E.DCP_NOT_FOUND,
    E.CLIENT_TOKEN_CONFLICT,
    E.BODY_TOO_LARGE,
    E.STORAGE_UNAVAILABLE,
)


def _create(
    services: Services, caller: Caller, body: AnyBody, token: ClientToken | None
) -> CreateImageResponse:
    catalog = services.catalog
    earlier = None if token is None else catalog.image_of_client_token(caller.project_id, token)
    if earlier is None:
        if caller.replayed:  # the token's image is gone: a replay must not make another
            raise replay_refused()
        _check_dcp(services, caller, body)
        earlier = catalog.register(caller.project_id, body.fpga_image, client_token=token)
    return CreateImageResponse(fpga_image=CreatedImage(status=earlier.status, id=earlier.id))


async def _accept(
    model: type[AnyBody],
    services: Services,
    caller: Caller,
    request: Request,
    x_client_token: str | None,
) -> CreateImageResponse:
    """A create or a registration: the body, its client token, then the catalog's row."""
    body = parse_json_body(model, request.headers.get("content-type"), await request.body())
    token = _client_token(x_client_token, body)
    return await run_in_threadpool(_create, services, caller, body, token)


@router.post(
    "/v2/{project_id}/cloudservers/fpga_image",
    summary="Create an FPGA image",
    description="Validates the request, checks that the DCP is in one of the project's buckets "
    "and readable, records the image as initialing and answers at once; a dispatcher starts "
    "the build. One image per project may be in creation at a time.",
    response_model=CreateImageResponse,
    responses=_CREATE_ERRORS,
    openapi_extra=openapi_body(CreateFpgaImageBody),
)
async def create_fpga_image(
    project_id: ProjectId,
    caller: CreateCallerDep,
    services: ServicesDep,
    request: Request,
    x_client_token: ClientTokenHeader = None,
) -> CreateImageResponse:
    return await _accept(CreateFpgaImageBody, services, caller, request, x_client_token)


@router.post(
    "/v1/{project_id}/cloudservers/fpga_image",
    summary="Register a finished bitstream as an FPGA image (legacy)",
    description="The legacy register: a finished bitstream (`.bin`, or an `.xclbin` holding "
    "one) in one of the project's buckets is saved as an image, not built. Validates the "
    "request, checks the file is readable, records the image as saving and answers at once; "
    "a dispatcher starts its run. One image per project may be in creation (or saving).",
    response_model=CreateImageResponse,
    responses=_CREATE_ERRORS,
    openapi_extra=openapi_body(RegisterFpgaImageBody),
)
async def register_fpga_image(
    project_id: ProjectId,
    caller: CreateCallerDep,
    services: ServicesDep,
    request: Request,
    x_client_token: ClientTokenHeader = None,
) -> CreateImageResponse:
    return await _accept(RegisterFpgaImageBody, services, caller, request, x_client_token)


def page_window(query: PagedQuery) -> tuple[int, int | None]:
    """The query's (offset, limit), or the cloud's invalid-parameter error."""
    try:
        return query.window()
    except ValueError as exc:
        raise ApiProblem(E.INVALID_PARAMETER, str(exc)) from None


@router.get(
    "/v1/{project_id}/cloudservers/fpga_image/detail",
    summary="List the project's FPGA images, newest first",
    response_model=ImageList,
    responses=error_responses(),
)
def list_fpga_images(
    project_id: ProjectId,
    caller: CallerDep,
    services: ServicesDep,
    query: Annotated[ListQuery, Query()],
) -> Response:
    offset, limit = 0, None
    if query.fpga_image_id is None:  # an image id turns paging off
        offset, limit = page_window(query)
    count, records = services.catalog.list_images(
        caller.project_id, image_id=query.fpga_image_id, offset=offset, limit=limit
    )
    listed = ImageList.of(count, records)
    # Serialized once here: returning the model would make FastAPI validate it a second time.
    return Response(listed.model_dump_json(), media_type="application/json")


@router.delete(
    "/v1/{project_id}/cloudservers/fpga_image/{fpga_image_id}",
    summary="Delete an FPGA image (active or error, not protected)",
    description="The image becomes deleting at once; a delete run removes its file from the "
    "image store and then its record.",
    status_code=204,
    response_class=Response,
    responses=error_responses(E.IMAGE_NOT_FOUND, E.IMAGE_PROTECTED, E.IMAGE_STATUS_CONFLICT),
)
def delete_fpga_image(
    project_id: ProjectId, fpga_image_id: ImageId, caller: CallerDep, services: ServicesDep
) -> Response:
    services.catalog.begin_delete(caller.project_id, fpga_image_id)
    return Response(status_code=204)
