"""objects sent to object storage (S3): spooled or stored, with version, retention and checksum

Revision ID: 0002_stored_objects
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from archive.catalog.db import UTCDateTime

revision = "0002_stored_objects"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_objects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("capture_id", sa.Integer),
        sa.Column("case_id", sa.String(200)),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("key", sa.String(1024), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("version_id", sa.String(1024)),
        sa.Column("server_checksum", sa.String(100)),
        sa.Column("part_size", sa.BigInteger),
        sa.Column("lock_mode", sa.String(20)),
        sa.Column("retain_until", UTCDateTime),
        sa.Column("legal_hold", sa.Boolean, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("next_attempt_at", UTCDateTime),
        sa.Column("spooled_at", UTCDateTime, nullable=False),
        sa.Column("spooled_on", sa.String(500), nullable=False),
        sa.Column("stored_at", UTCDateTime),
        sa.UniqueConstraint("bucket", "key", name="uq_stored_objects_bucket_key"),
    )
    op.create_index("ix_stored_objects_capture_id", "stored_objects", ["capture_id"])
    op.create_index("ix_stored_objects_case_id", "stored_objects", ["case_id"])
    op.create_index("ix_stored_objects_state", "stored_objects", ["state"])
    op.create_index("ix_stored_objects_next_attempt_at", "stored_objects", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_table("stored_objects")
