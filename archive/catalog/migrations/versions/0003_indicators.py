"""findings, photos, derived, watched_identifiers, alerts: identifiers that link ads (issue 14)

Revision ID: 0003_indicators
Revises: 0002_schedule, 0002_service, 0002_stored_objects
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from archive.catalog.db import UTCDateTime

revision = "0003_indicators"
down_revision = ("0002_schedule", "0002_service", "0002_stored_objects")
branch_labels = None
depends_on = None

CHUNKS = 16  # archive.catalog.photohashes.CHUNKS, frozen here as this revision made it


def upgrade() -> None:
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("capture_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("value", sa.String(300), nullable=False),
        sa.Column("record_id", sa.String(100), nullable=False),
        sa.Column("record_sha256", sa.String(64), nullable=False),
        sa.Column("warc_name", sa.Text, nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("target_uri", sa.Text, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("context", sa.Text, nullable=False),
    )
    op.create_index("ix_findings_capture_id", "findings", ["capture_id"])
    op.create_index("ix_findings_value_kind", "findings", ["value", "kind"])
    op.create_index("ix_findings_record_id", "findings", ["record_id"])
    op.create_table(
        "photos",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("capture_id", sa.Integer, nullable=False),
        sa.Column("record_id", sa.String(100), nullable=False),
        sa.Column("record_sha256", sa.String(64), nullable=False),
        sa.Column("warc_name", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("pdq", sa.String(64), nullable=False),
        sa.Column("quality", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        *(sa.Column(f"c{i}", sa.Integer, nullable=False) for i in range(CHUNKS)),
    )
    op.create_index("ix_photos_capture_id", "photos", ["capture_id"])
    op.create_index("ix_photos_record_sha256", "photos", ["record_sha256"])
    op.create_index("ix_photos_record_id", "photos", ["record_id"])
    for i in range(CHUNKS):
        op.create_index(f"ix_photos_c{i}", "photos", [f"c{i}"])
    op.create_table(
        "derived",
        sa.Column("capture_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("derived_at", UTCDateTime, nullable=False),
        sa.Column("extractor", sa.String(50), nullable=False),
        sa.Column("findings", sa.Integer, nullable=False),
        sa.Column("photos", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Float),
    )
    op.create_table(
        "watched_identifiers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("value", sa.String(300), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.Column("added_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("kind", "value"),
    )
    op.create_index("ix_watched_identifiers_value", "watched_identifiers", ["value"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("value", sa.String(300), nullable=False),
        sa.Column("case_key", sa.String(200), nullable=False),
        sa.Column("capture_id", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(30), nullable=False),
        sa.Column("raised_at", UTCDateTime, nullable=False),
        sa.Column("delivered_at", UTCDateTime),
        sa.UniqueConstraint("kind", "value", "case_key"),
    )
    op.create_index("ix_alerts_capture_id", "alerts", ["capture_id"])


def downgrade() -> None:
    for table in ("alerts", "watched_identifiers", "derived", "photos", "findings"):
        op.drop_table(table)
