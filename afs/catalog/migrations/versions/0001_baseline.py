"""The baseline: the catalog as every release before migrations made it (SQLAlchemy create_all).

Written out here, not taken from afs.catalog.schema, so that later changes to the model cannot
change what this revision creates.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_STATUSES = ("initialing", "scheduling", "creating", "saving", "active", "error", "deleting")
_IN_CREATION = "('creating', 'initialing', 'saving', 'scheduling')"


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fpga_images",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.String(255)),
        sa.Column("dcp_location", sa.String(256), nullable=False),
        sa.Column("log_directory", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text()),
        sa.Column("size_mb", sa.BigInteger()),
        sa.Column(
            "metadata", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("flow_run_id", sa.String(64)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("requeues", sa.Integer(), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.CheckConstraint(
            "status IN ({})".format(", ".join(f"'{status}'" for status in _STATUSES)),
            name="ck_fpga_images_status",
        ),
    )
    op.create_index(
        "ix_fpga_images_project_created", "fpga_images", ["project_id", "created_at", "id"]
    )
    op.create_index("ix_fpga_images_status_created", "fpga_images", ["status", "created_at"])
    op.create_index("ix_fpga_images_project", "fpga_images", ["project_id"])
    op.create_index(
        "uq_fpga_images_one_in_creation_per_project",
        "fpga_images",
        ["project_id"],
        unique=True,
        sqlite_where=sa.text(f"status IN {_IN_CREATION}"),
        postgresql_where=sa.text(f"status IN {_IN_CREATION}"),
    )
    op.create_table(
        "fpga_image_client_tokens",
        sa.Column("project_id", sa.String(64), primary_key=True),
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("image_id", sa.String(32), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
    )
    op.create_index(
        "ix_fpga_image_client_tokens_image_id", "fpga_image_client_tokens", ["image_id"]
    )
    op.create_table(
        "fpga_image_associations",
        sa.Column("project_id", sa.String(64), primary_key=True),
        sa.Column("image_id", sa.String(64), primary_key=True),
        sa.Column("fpga_image_id", sa.String(32), primary_key=True),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.CheckConstraint("slot >= 0 AND slot < 10", name="ck_association_slot"),
        sa.UniqueConstraint("project_id", "image_id", "slot", name="uq_association_slot"),
    )
    op.create_index(
        "ix_fpga_image_associations_fpga_image", "fpga_image_associations", ["fpga_image_id"]
    )
    op.create_table(
        "api_access_keys",
        sa.Column("access_key", sa.String(64), primary_key=True),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
    )
    op.create_index("ix_api_access_keys_project_id", "api_access_keys", ["project_id"])
    op.create_table(
        "api_used_signatures",
        sa.Column("access_key", sa.String(64), primary_key=True),
        sa.Column("signature", sa.String(128), primary_key=True),
        sa.Column("expires_at", _utc(), nullable=False),
    )
    op.create_index("ix_api_used_signatures_expires_at", "api_used_signatures", ["expires_at"])


def downgrade() -> None:
    for table in (
        "api_used_signatures",
        "api_access_keys",
        "fpga_image_associations",
        "fpga_image_client_tokens",
        "fpga_images",
    ):
        op.drop_table(table)
