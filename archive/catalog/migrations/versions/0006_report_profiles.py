"""reports.profile: the browser profile a service report asks its capture to be made with

Revision ID: 0006_report_profiles
Revises: 0005_profiles
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_report_profiles"
down_revision = "0005_profiles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("profile", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("profile")
