"""Associations of FPGA images with ECS images: associate, disassociate, list."""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from afs.api.auth import Caller, CallerDep
from afs.api.body import openapi_body, parse_json_body
from afs.api.images import ImageId, ProjectId, page_window
from afs.api.problems import error_responses
from afs.api.services import Services, services
from afs.errors import ApiErrorCode as E
from afs.wire.schemas import (
    Association,
    AssociationBody,
    AssociationList,
    AssociationsQuery,
    ImageItem,
)

router = APIRouter(tags=["associations"])
ServicesDep = Annotated[Services, Depends(services)]
_PATH = "/v1/{project_id}/cloudservers/fpga_image/{fpga_image_id}/association"


async def _change(
    operation: Callable[[str, str, str], object],
    caller: Caller,
    fpga_image_id: str,
    request: Request,
) -> Response:
    """Apply catalog.associate or catalog.disassociate to the body's pair: 204 when done."""
    content_type = request.headers.get("content-type")
    body = parse_json_body(AssociationBody, content_type, await request.body())
    await run_in_threadpool(operation, caller.project_id, fpga_image_id, body.image.id)
    return Response(status_code=204)


@router.post(
    _PATH,
    summary="Associate an active FPGA image with an ECS image (the image becomes protected)",
    status_code=204,
    response_class=Response,
    responses=error_responses(
        E.IMAGE_NOT_FOUND, E.IMAGE_STATUS_CONFLICT, E.ASSOCIATION_EXISTS, E.ASSOCIATION_LIMIT
    ),
    openapi_extra=openapi_body(AssociationBody),
)
async def associate(
    project_id: ProjectId,
    fpga_image_id: ImageId,
    caller: CallerDep,
    services: ServicesDep,
    request: Request,
) -> Response:
    return await _change(services.catalog.associate, caller, fpga_image_id, request)


@router.delete(
    _PATH,
    summary="Remove an association (the image stays protected while it has others)",
    status_code=204,
    response_class=Response,
    responses=error_responses(E.IMAGE_NOT_FOUND, E.ASSOCIATION_NOT_FOUND),
    openapi_extra=openapi_body(AssociationBody),
)
async def disassociate(
    project_id: ProjectId,
    fpga_image_id: ImageId,
    caller: CallerDep,
    services: ServicesDep,
    request: Request,
) -> Response:
    return await _change(services.catalog.disassociate, caller, fpga_image_id, request)


@router.get(
    "/v1/{project_id}/cloudservers/fpga_image/associations",
    summary="List associations by ECS image or by FPGA image (neither given: an empty list)",
    response_model=AssociationList,
    responses=error_responses(),
)
def list_associations(
    project_id: ProjectId,
    caller: CallerDep,
    services: ServicesDep,
    query: Annotated[AssociationsQuery, Query()],
) -> AssociationList:
    offset, limit = page_window(query)
    if query.image_id is None and query.fpga_image_id is None:
        return AssociationList(associations=[])
    pairs = services.catalog.list_associations(
        caller.project_id,
        ecs_image_id=query.image_id,
        fpga_image_id=query.fpga_image_id,
        offset=offset,
        limit=limit,
    )
    return AssociationList(
        associations=[
            Association(image_id=ecs_image_id, fpgaimages=[ImageItem.of(r) for _, r in group])
            for ecs_image_id, group in groupby(pairs, key=lambda pair: pair[0])
        ]
    )
