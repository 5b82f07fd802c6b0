"""jobs.page_closed_at: a job's page is closed while its capture is still being sealed

A site's places (``--per-host``) count the pages of the site open in a browser anywhere in the
fleet; sealing a capture (hashing, writing, uploading) no longer holds one.

Revision ID: 0006_queue_pages
Revises: 0005_queue
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from archive.catalog.db import UTCDateTime

revision = "0006_queue_pages"
down_revision = "0005_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("page_closed_at", UTCDateTime))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("page_closed_at")
