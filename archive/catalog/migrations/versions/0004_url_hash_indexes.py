"""URL indexes by hash on PostgreSQL: a URL as long as a browser takes fits no btree entry

PostgreSQL refuses a btree index entry over 2,704 bytes, so sealing the capture of a URL of a few
thousand characters that do not compress failed at the time-line's index (and watching it at the
watch list's). A hash index stores a 4-byte hash of the key, whatever its length; uniqueness of a
watched URL becomes an exclusion constraint on the same hash (equal URLs conflict). SQLite indexes
a text of any length and keeps its indexes.

Revision ID: 0004_url_hash_indexes
Revises: 0003_indicators
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0004_url_hash_indexes"
down_revision = "0003_indicators"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_observations_url_at", table_name="observations")
    op.create_index("ix_observations_url", "observations", ["url"], postgresql_using="hash")
    op.drop_constraint("watchlist_url_key", "watchlist", type_="unique")
    op.execute(
        "ALTER TABLE watchlist ADD CONSTRAINT watchlist_url_key EXCLUDE USING hash (url WITH =)"
    )
    op.drop_index("ix_watchlist_seed_url", table_name="watchlist")
    op.create_index("ix_watchlist_seed_url", "watchlist", ["seed_url"], postgresql_using="hash")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_watchlist_seed_url", table_name="watchlist")
    op.create_index("ix_watchlist_seed_url", "watchlist", ["seed_url"])
    op.drop_constraint("watchlist_url_key", "watchlist")
    op.create_unique_constraint("watchlist_url_key", "watchlist", ["url"])
    op.drop_index("ix_observations_url", table_name="observations")
    op.create_index("ix_observations_url_at", "observations", ["url", "observed_at"])
