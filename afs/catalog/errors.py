"""What the catalog refuses: one class per reason, all under CatalogError."""

from __future__ import annotations

from afs.catalog.schema import MAX_FPGA_IMAGES_PER_ECS_IMAGE
from afs.errors import AfsError
from afs.status import ImageStatus


class CatalogError(AfsError):
    """Base of every error the catalog raises on purpose."""


class QuotaExceeded(CatalogError):
    def __init__(self, project_id: str, image_id_in_creation: str) -> None:
        self.project_id = project_id
        self.image_id_in_creation = image_id_in_creation
        super().__init__(
            f"project {project_id} already has image {image_id_in_creation} in creation; "
            "only one image per project may be created at a time"
        )


class ImageNotFound(CatalogError):
    def __init__(self, image_id: str) -> None:
        self.image_id = image_id
        super().__init__(f"image {image_id} not found")


class ImageExists(CatalogError):
    def __init__(self, image_id: str) -> None:
        self.image_id = image_id
        super().__init__(f"image {image_id} is already registered")


class IllegalTransition(CatalogError):
    """A status change the transition table never allows, or a step the image is not ready for."""


class WrongStatus(CatalogError):
    """The image's status does not allow what was asked (delete, associate)."""

    def __init__(self, image_id: str, status: ImageStatus, action: str, allowed: str) -> None:
        self.image_id = image_id
        self.status = status
        super().__init__(f"image {image_id} is {status.value}: only {allowed} images can {action}")


class ImageProtected(CatalogError):
    def __init__(self, image_id: str) -> None:
        self.image_id = image_id
        super().__init__(
            f"image {image_id} is protected (associated with an ECS image); disassociate it first"
        )


class ClientTokenConflict(CatalogError):
    def __init__(self, token: str, image_id: str) -> None:
        self.image_id = image_id
        super().__init__(
            f"X-Client-Token {token!r} was used for image {image_id} with another body"
        )


class AssociationExists(CatalogError):
    def __init__(self, fpga_image_id: str, ecs_image_id: str) -> None:
        super().__init__(f"image {fpga_image_id} is already associated with {ecs_image_id}")


class AssociationLimit(CatalogError):
    def __init__(self, ecs_image_id: str) -> None:
        super().__init__(
            f"ECS image {ecs_image_id} has {MAX_FPGA_IMAGES_PER_ECS_IMAGE} FPGA images "
            "associated already, the most allowed"
        )


class AssociationNotFound(CatalogError):
    def __init__(self, fpga_image_id: str, ecs_image_id: str) -> None:
        super().__init__(f"image {fpga_image_id} is not associated with {ecs_image_id}")
