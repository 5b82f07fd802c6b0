"""A watched seed's media: whether its captures make a complete copy of the page's video

A seed file's ``media: true`` asks for a yt-dlp copy even where the browser saw no video,
``media: false`` for none; seeds watched before say nothing (NULL): a copy where a video or a
stream manifest was seen, as for a capture from the command line (issue 13).

Revision ID: 0005_media
Revises: 0004_url_hash_indexes
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_media"
down_revision = "0004_url_hash_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("watchlist", sa.Column("media", sa.Boolean, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("watchlist") as batch:
        batch.drop_column("media")
