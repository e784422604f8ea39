"""The system of record: images, client tokens, associations, access keys, replays, the quota.

The catalog's public names are importable from here; each lives in one module of the package:
`schema` (tables), `errors` (what it refuses), `store` (the Catalog), `credentials` (access keys),
`replay` (signed requests already received).
"""

from afs.catalog.errors import (
    AssociationExists,
    AssociationLimit,
    AssociationNotFound,
    CatalogError,
    ClientTokenConflict,
    IllegalTransition,
    ImageExists,
    ImageNotFound,
    ImageProtected,
    QuotaExceeded,
    WrongStatus,
)
from afs.catalog.schema import MAX_FPGA_IMAGES_PER_ECS_IMAGE, UtcDateTime, fpga_images
from afs.catalog.store import Catalog, ClientToken, default_catalog

__all__ = [
    "MAX_FPGA_IMAGES_PER_ECS_IMAGE",
    "AssociationExists",
    "AssociationLimit",
    "AssociationNotFound",
    "Catalog",
    "CatalogError",
    "ClientToken",
    "ClientTokenConflict",
    "IllegalTransition",
    "ImageExists",
    "ImageNotFound",
    "ImageProtected",
    "QuotaExceeded",
    "UtcDateTime",
    "WrongStatus",
    "default_catalog",
    "fpga_images",
]
