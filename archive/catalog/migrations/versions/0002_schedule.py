"""scheduled crawls: watch list, payload index (revisits), liveness observations

Revision ID: 0002_schedule
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from archive.catalog.db import UTCDateTime

revision = "0002_schedule"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watchlist",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("url", sa.Text, nullable=False, unique=True),
        sa.Column("case_id", sa.String(200)),
        sa.Column("every_s", sa.Integer),
        sa.Column("follow", sa.JSON, nullable=False),
        sa.Column("depth", sa.Integer, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("obey_robots", sa.Boolean, nullable=False),
        sa.Column("seed_url", sa.Text),
        sa.Column("found_on", sa.Text),
        sa.Column("found_in_capture_id", sa.Integer),
        sa.Column("added_at", UTCDateTime, nullable=False),
        sa.Column("next_due_at", UTCDateTime),
        sa.Column("last_run_at", UTCDateTime),
        sa.Column("last_capture_id", sa.Integer),
    )
    op.create_index("ix_watchlist_case_id", "watchlist", ["case_id"])
    op.create_index("ix_watchlist_seed_url", "watchlist", ["seed_url"])
    op.create_index("ix_watchlist_next_due_at", "watchlist", ["next_due_at"])
    op.create_table(
        "payloads",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("record_type", sa.String(20), primary_key=True),
        sa.Column("record_id", sa.String(100), nullable=False),
        sa.Column("target_uri", sa.Text, nullable=False),
        sa.Column("warc_date", sa.String(40), nullable=False),
        sa.Column("warc_name", sa.Text, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("length", sa.BigInteger, nullable=False),
        sa.Column("capture_id", sa.Integer, nullable=False),
    )
    op.create_index("ix_payloads_capture_id", "payloads", ["capture_id"])
    op.create_table(
        "observations",
        sa.Column("capture_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("observed_at", UTCDateTime, nullable=False),
        sa.Column("case_id", sa.String(200)),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(40)),
        sa.Column("http_status", sa.Integer),
        sa.Column("final_url", sa.Text),
        sa.Column("change", sa.String(10)),
        sa.Column("previous_capture_id", sa.Integer),
        sa.Column("baseline_capture_id", sa.Integer),
        sa.Column("diff", sa.JSON),
    )
    op.create_index("ix_observations_url_at", "observations", ["url", "observed_at"])
    op.create_index("ix_observations_case_id", "observations", ["case_id"])


def downgrade() -> None:
    op.drop_table("observations")
    op.drop_table("payloads")
    op.drop_table("watchlist")
