"""The API application: routers, the body limit, the error handlers and the OpenAPI document."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from afs.api import associations, images
from afs.api.limits import BodyLimit
from afs.api.problems import install_error_handlers
from afs.api.services import Services
from afs.catalog import Catalog, default_catalog
from afs.catalog.credentials import CredentialStore
from afs.catalog.replay import ReplayGuard
from afs.models import CreateFpgaImageBody
from afs.settings import Settings, get_settings
from afs.wire.errors import ErrorBody
from afs.wire.schemas import AssociationBody, Health

# Bodies the routes parse themselves (afs/api/body.py): their schemas go into the document here.
_PARSED_BODIES: tuple[type[BaseModel], ...] = (CreateFpgaImageBody, AssociationBody)
_SIGNING = (
    "AK/SK request signing, SDK-HMAC-SHA256: `Authorization: SDK-HMAC-SHA256 Access=<AK>, "
    "SignedHeaders=..., Signature=...` (huaweicloudsdkcore's Signer) or `Credential=<AK>/<date>/"
    "<region>/<service>/sdk_request` (FP1 CLI, derived key), with `X-Sdk-Date` within 15 minutes."
)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    models: tuple[type[BaseModel], ...] = (*_PARSED_BODIES, ErrorBody)
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    # No route answers FastAPI's default 422: parameter errors are 400 Ecs.0005 (problems.py).
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    document["components"]["securitySchemes"] = {
        "sdkHmacSha256": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": _SIGNING,
        }
    }
    for path, operations in document["paths"].items():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
            if path != "/health":
                operation["security"] = [{"sdkHmacSha256": []}]
    app.openapi_schema = document
    return document


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # What start-up loaded (FastAPI, pydantic schemas, SQLAlchemy) lives as long as the process:
    # kept out of the collector's scans, it cannot make a full collection pause a request.
    gc.freeze()
    yield


def create_app(settings: Settings | None = None, catalog: Catalog | None = None) -> FastAPI:
    settings = settings or get_settings()
    catalog = catalog or default_catalog()
    app = FastAPI(
        title="AFS: FPGA image factory API",
        version="1.0",
        description="Cloud-compatible FPGA image API (create, list, delete, associations). "
        + _SIGNING
        + ' Every error is `{"error": {"code": ..., "message": ...}}`.',
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.services = Services(
        settings=settings,
        catalog=catalog,
        credentials=CredentialStore.from_settings(settings, catalog),
        replays=ReplayGuard(catalog),
    )
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    install_error_handlers(app)
    app.include_router(images.router)
    app.include_router(associations.router)

    @app.get("/health", tags=["health"], summary="For load balancers", response_model=Health)
    def health() -> Health:
        return Health()

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app
