"""The API's request and response bodies, apart from the catalog's own records."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from afs.models import IMAGE_ID_PATTERN, ImageRecord, _absent_if_empty
from afs.status import ImageStatus

ECS_IMAGE_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
CREATED_AT_FORMAT = "%Y-%m-%d %H:%M:%S"


class CreatedImage(BaseModel):
    status: ImageStatus = Field(examples=["initialing"])
    id: str = Field(pattern=IMAGE_ID_PATTERN, examples=["4010a32c5c62bad9015c62dc2290002b"])


class CreateImageResponse(BaseModel):
    fpga_image: CreatedImage


class ImageItem(BaseModel):
    """One image as the list shows it."""

    id: str
    name: str
    description: str | None
    status: ImageStatus
    size: int = Field(description="image file size in MB; 0 until the image is built")
    createdAt: str = Field(description="UTC, 'YYYY-MM-DD HH:MM:SS'")
    protected: bool
    message: str | None = Field(description="'CODE: text' for an image in error; else null")
    metadata: dict[str, Any]
    log_directory: str | None = Field(
        description="'bucket:directory' of the log tarball; none for a registered bitstream, "
        "which is saved, not built"
    )

    @classmethod
    def of(cls, record: ImageRecord) -> ImageItem:
        return cls.model_validate(cls.fields_of(record))

    @staticmethod
    def fields_of(record: ImageRecord) -> dict[str, Any]:
        """The item's fields: a page of them is validated in one call (see ImageList.of)."""
        return {
            "id": record.id,
            "name": record.name,
            "description": record.description,
            "status": record.status,
            "size": record.size_mb or 0,
            "createdAt": record.created_at.astimezone(UTC).strftime(CREATED_AT_FORMAT),
            "protected": record.protected,
            "message": record.message,
            "metadata": record.metadata,
            "log_directory": None
            if record.registered
            else f"{record.request.dcp_bucket}:{record.request.log_prefix}",
        }


class ImageList(BaseModel):
    count: int = Field(description="how many images match, over all pages")
    fpgaimages: list[ImageItem]

    @classmethod
    def of(cls, count: int, records: list[ImageRecord]) -> ImageList:
        items = [ImageItem.fields_of(record) for record in records]
        return cls.model_validate({"count": count, "fpgaimages": items})


# Real clients send `page=` for a parameter they do not set: empty means absent.
# (The constraints sit inside the union: on `int | None` as a whole they would meet None.)
Page = Annotated[
    Annotated[int, Field(ge=1, lt=65535)] | None,
    BeforeValidator(_absent_if_empty),
    Field(None, description="1-65534; give page and size together"),
]
Size = Annotated[
    Annotated[int, Field(ge=1, le=100)] | None,
    BeforeValidator(_absent_if_empty),
    Field(None, description="1-100; give page and size together"),
]
FpgaImageIdQuery = Annotated[
    Annotated[str, Field(pattern=IMAGE_ID_PATTERN)] | None,
    BeforeValidator(_absent_if_empty),
    Field(None, description="32 lowercase hex; turns paging off"),
]
EcsImageIdQuery = Annotated[
    Annotated[str, Field(pattern=ECS_IMAGE_ID_PATTERN)] | None,
    BeforeValidator(_absent_if_empty),
    Field(None, description="ECS image id (UUID, lowercase)"),
]


class PagedQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: Page = None
    size: Size = None

    def window(self) -> tuple[int, int | None]:
        """(offset, limit) of the page asked for: everything when neither page nor size is given.

        Raises ValueError when only one is given (the API answers it as an invalid parameter).
        """
        if self.page is None and self.size is None:
            return 0, None
        if self.page is None or self.size is None:
            raise ValueError("query parameters page and size: give both or none")
        return (self.page - 1) * self.size, self.size


class ListQuery(PagedQuery):
    fpga_image_id: FpgaImageIdQuery = None


class AssociationsQuery(PagedQuery):
    image_id: EcsImageIdQuery = None
    fpga_image_id: FpgaImageIdQuery = None


class EcsImageRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        pattern=ECS_IMAGE_ID_PATTERN,
        description="the ECS image id (UUID, lowercase)",
        examples=["c4d0a8a0-5b5a-4c5e-9a7e-2f1f3c3e8d11"],
    )


class AssociationBody(BaseModel):
    """Body of POST and DELETE .../association."""

    model_config = ConfigDict(extra="forbid")

    image: EcsImageRef


class Association(BaseModel):
    image_id: str
    fpgaimages: list[ImageItem]


class AssociationList(BaseModel):
    associations: list[Association]


class Health(BaseModel):
    status: str = "ok"
