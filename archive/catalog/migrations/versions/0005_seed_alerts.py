"""A watched seed's alert kinds: identifiers of these kinds seen in another case raise an alert

A seed file's ``alert: [phone, telegram, image]`` travels with the seed and with the links its
follow rules find, so the watch list keeps it beside the schedule. Seeds watched before have
none (an empty list): they alert as before, on the watch list of identifiers and --alert-known.

Revision ID: 0005_seed_alerts
Revises: 0004_url_hash_indexes
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_seed_alerts"
down_revision = "0004_url_hash_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("watchlist", sa.Column("alert", sa.JSON, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("watchlist") as batch:
        batch.drop_column("alert")
