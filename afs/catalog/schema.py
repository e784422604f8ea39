"""The catalog's tables and their indexes (SQLAlchemy Core; SQLite and PostgreSQL alike).

This is the model the migrations (afs/catalog/migrations) bring every catalog to: a change here
needs a new revision, and tests/catalog/test_migrations.py fails until it has one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from afs.status import IN_CREATION, ImageStatus

# Only one image of a project may hold one of these statuses at a time (the quota).
QUOTA_STATUSES = sorted(status.value for status in IN_CREATION)
# At most this many FPGA images may be associated with one ECS image (per project).
MAX_FPGA_IMAGES_PER_ECS_IMAGE = 10


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text, so it is UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the catalog stores only timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

fpga_images = Table(
    "fpga_images",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("name", String(64), nullable=False),
    Column("description", String(255)),
    Column("dcp_location", String(256), nullable=False),
    Column("log_directory", String(64)),
    Column("status", String(16), nullable=False),
    Column("message", Text),
    # The cause at the front of an error's message ("CODE: text"), kept apart to be queried.
    Column("failure_cause", String(32)),
    Column("size_mb", BigInteger),
    Column("metadata", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("flow_run_id", String(64)),
    Column("attempts", Integer, nullable=False, default=0),
    # Times the image went back to initialing for another build: part of the next run's key.
    Column("requeues", Integer, nullable=False, default=0),
    Column("protected", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(
        "status IN ({})".format(", ".join(f"'{status.value}'" for status in ImageStatus)),
        name="ck_fpga_images_status",
    ),
)
_status = fpga_images.c.status
# The list's order (newest first, id breaking ties) read straight from the index, no sort.
Index(
    "ix_fpga_images_project_created",
    fpga_images.c.project_id,
    fpga_images.c.created_at,
    fpga_images.c.id,
)
Index("ix_fpga_images_status_created", _status, fpga_images.c.created_at)
# A project's image count (the list's `count`) read from the narrowest index there is.
Index("ix_fpga_images_project", fpga_images.c.project_id)
# The quota, enforced by the database: two racing inserts cannot both hold it.
Index(
    "uq_fpga_images_one_in_creation_per_project",
    fpga_images.c.project_id,
    unique=True,
    sqlite_where=_status.in_(QUOTA_STATUSES),
    postgresql_where=_status.in_(QUOTA_STATUSES),
)


# X-Client-Token of a create -> the image it made; the same token with another body is a conflict.
client_tokens = Table(
    "fpga_image_client_tokens",
    metadata,
    Column("project_id", String(64), primary_key=True),
    Column("token", String(64), primary_key=True),
    Column("body_sha256", String(64), nullable=False),
    Column("image_id", String(32), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
)

# ECS image <-> FPGA image, per project. Each pair takes one of the ECS image's numbered slots, so
# the database itself refuses an eleventh association even when two requests race.
associations = Table(
    "fpga_image_associations",
    metadata,
    Column("project_id", String(64), primary_key=True),
    Column("image_id", String(64), primary_key=True),
    Column("fpga_image_id", String(32), primary_key=True),
    Column("slot", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint(
        f"slot >= 0 AND slot < {MAX_FPGA_IMAGES_PER_ECS_IMAGE}", name="ck_association_slot"
    ),
    UniqueConstraint("project_id", "image_id", "slot", name="uq_association_slot"),
)
Index("ix_fpga_image_associations_fpga_image", associations.c.fpga_image_id)

# API access keys (afs.catalog.credentials): the secret, encrypted with the key file's key.
access_keys = Table(
    "api_access_keys",
    metadata,
    Column("access_key", String(64), primary_key=True),
    Column("project_id", String(64), nullable=False, index=True),
    Column("secret_encrypted", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# Signatures of changing requests already received (afs.catalog.replay), until their date expires.
used_signatures = Table(
    "api_used_signatures",
    metadata,
    Column("access_key", String(64), primary_key=True),
    Column("signature", String(128), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)
