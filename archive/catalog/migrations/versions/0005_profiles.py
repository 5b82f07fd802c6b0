"""profiles (encrypted browser profiles shared by the workers), watchlist.profile (issue 12)

Revision ID: 0005_profiles
Revises: 0004_url_hash_indexes
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from archive.catalog.db import UTCDateTime

revision = "0005_profiles"
down_revision = "0004_url_hash_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profiles",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("sealed", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    with op.batch_alter_table("watchlist") as batch:
        batch.add_column(sa.Column("profile", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("watchlist") as batch:
        batch.drop_column("profile")
    op.drop_table("profiles")
