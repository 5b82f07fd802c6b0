"""jobs, workers, hosts: one queue of capture jobs shared by every worker of a fleet

A job is one capture to make (a due watch entry, a followed link, an on-demand report). At most
one job per URL is queued or running (a partial unique index on the URL's hash, which fits an
index entry whatever the URL's length). A capture names the job it answers (``captures.job_id``,
unique): sealing a job that ran twice finds the first capture instead of making a second.
``workers`` is what each worker last said about itself; ``hosts`` the fleet's politeness per
site (when its next page may start, and how long it is backed off after refusing).

Revision ID: 0005_queue
Revises: 0004_url_hash_indexes
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from archive.catalog.db import UTCDateTime

revision = "0005_queue"
down_revision = "0004_url_hash_indexes"
branch_labels = None
depends_on = None

PENDING = "status IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("url_hash", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("job", sa.JSON, nullable=False),
        sa.Column("report_id", sa.Integer),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("enqueued_at", UTCDateTime, nullable=False),
        sa.Column("due_at", UTCDateTime),
        sa.Column("run_after", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("worker", sa.String(200)),
        sa.Column("capture_id", sa.Integer),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_jobs_status_priority", "jobs", ["status", "priority", "id"])
    op.create_index("ix_jobs_host_status", "jobs", ["host", "status"])
    op.create_index(
        "ux_jobs_pending_url",
        "jobs",
        ["url_hash"],
        unique=True,
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )
    op.create_table(
        "workers",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("browser", sa.String(200)),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("seen_at", UTCDateTime, nullable=False),
        sa.Column("stopped_at", UTCDateTime),
        sa.Column("current", sa.JSON, nullable=False),
        sa.Column("captures", sa.Integer, nullable=False),
    )
    op.create_table(
        "hosts",
        sa.Column("host", sa.String(255), primary_key=True),
        sa.Column("next_at", UTCDateTime),
        sa.Column("backoff_until", UTCDateTime),
        sa.Column("refusals", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.add_column("captures", sa.Column("job_id", sa.Integer))
    op.create_index("ux_captures_job_id", "captures", ["job_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("captures") as batch:
        batch.drop_index("ux_captures_job_id")
        batch.drop_column("job_id")
    op.drop_table("hosts")
    op.drop_table("workers")
    op.drop_index("ux_jobs_pending_url", table_name="jobs")
    op.drop_index("ix_jobs_host_status", table_name="jobs")
    op.drop_index("ix_jobs_status_priority", table_name="jobs")
    op.drop_table("jobs")
