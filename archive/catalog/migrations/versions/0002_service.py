"""reports: the on-demand capture service's durable queue

Revision ID: 0002_service
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from archive.catalog.db import UTCDateTime

revision = "0002_service"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("case_id", sa.String(200)),
        sa.Column("note", sa.Text),
        sa.Column("reporter", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("requested_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("worker", sa.String(200)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("linked_to", sa.Integer),
        sa.Column("capture_id", sa.Integer),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_reports_case_id", "reports", ["case_id"])
    op.create_index("ix_reports_status", "reports", ["status"])
    op.create_index("ix_reports_linked_to", "reports", ["linked_to"])
    op.create_index("ix_reports_capture_id", "reports", ["capture_id"])


def downgrade() -> None:
    op.drop_table("reports")
