"""The failure cause gets a column of its own, filled from the messages already stored.

An image in error carries "CODE: text"; until now the cause was read back by matching the
message's prefix in SQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# afs.errors.FailureCause as this revision was written (a revision never changes with the code).
_CAUSES = frozenset(
    {
        "BITSTREAM_CORRUPT",
        "BITSTREAM_GENERATE_ERROR",
        "BITSTREAM_NOT_FOUND",
        "BITSTREAM_NOT_PARTIAL",
        "BUILD_TIMEOUT",
        "CANCELLED",
        "CORRUPT_ARCHIVE",
        "DCP_CORRUPT",
        "DCP_INTEGRITY_UNVERIFIED",
        "DCP_IS_BITSTREAM",
        "DCP_NOT_FOUND",
        "DCP_NOT_ROUTED_DESIGN",
        "INACCESSIBLE_INPUT",
        "INPUT_SIZE_ILLEGAL",
        "INTERNAL_ERROR",
        "LOG_UPLOAD_FAILED",
        "MANIFEST_NOT_FOUND",
        "MANIFEST_PARSE_FAILED",
        "PART_MISMATCH",
        "PCIID_SYNTAX_INVALID",
        "PR_VERIFY_FAILED",
        "SHELL_VERSION_INVALID",
        "STORAGE_UNAVAILABLE",
        "TIMING_VIOLATION",
        "TOOL_VERSION_INVALID",
        "WORKER_CRASHED",
    }
)


def upgrade() -> None:
    with op.batch_alter_table("fpga_images") as table:
        table.add_column(sa.Column("failure_cause", sa.String(32)))
    images = sa.table(
        "fpga_images",
        sa.column("id", sa.String),
        sa.column("status", sa.String),
        sa.column("message", sa.Text),
        sa.column("failure_cause", sa.String),
    )
    connection = op.get_bind()
    with_message = connection.execute(
        sa.select(images.c.id, images.c.message).where(images.c.message.is_not(None))
    ).all()
    for image_id, message in with_message:
        code, separator, _ = message.partition(": ")
        if separator and code in _CAUSES:
            connection.execute(
                sa.update(images).where(images.c.id == image_id).values(failure_cause=code)
            )


def downgrade() -> None:
    with op.batch_alter_table("fpga_images") as table:
        table.drop_column("failure_cause")
