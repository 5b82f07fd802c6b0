"""captures and the custody log

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from archive.catalog.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "captures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("final_url", sa.Text),
        sa.Column("http_status", sa.Integer),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("captured_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=False),
        sa.Column("case_id", sa.String(200)),
        sa.Column("note", sa.Text),
        sa.Column("operator", sa.String(200)),
        sa.Column("warc_name", sa.Text, nullable=False),
        sa.Column("warc_location", sa.Text, nullable=False),
        sa.Column("warc_sha256", sa.String(64), nullable=False),
        sa.Column("warc_size", sa.BigInteger, nullable=False),
        sa.Column("records", sa.JSON, nullable=False),
        sa.Column("payload_sha256", sa.String(64)),
        sa.Column("screenshot_sha256", sa.String(64)),
        sa.Column("dom_sha256", sa.String(64)),
        sa.Column("pdf_sha256", sa.String(64)),
        sa.Column("exchanges", sa.Integer, nullable=False),
        sa.Column("network_idle", sa.Boolean),
        sa.Column("software", sa.String(200)),
        sa.Column("browser", sa.String(200)),
    )
    op.create_index("ix_captures_case_id", "captures", ["case_id"])
    op.create_index("ix_captures_captured_at", "captures", ["captured_at"])
    op.create_table(
        "custody",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("capture_id", sa.Integer),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_custody_capture_id", "custody", ["capture_id"])


def downgrade() -> None:
    op.drop_table("custody")
    op.drop_table("captures")
