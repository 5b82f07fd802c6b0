"""Photo search reads hashes from a narrow index table: one row per photo and 16-bit chunk

A similar-photo search found its ~4,000 candidates (at a million photos, distance 31) in the
sixteen chunk indexes of ``photos``, then read each candidate's whole hash from the wide
``photos`` row: most of its time. ``photo_bands`` holds, per photo and chunk, the chunk's number
and value (one integer key), the photo's id and the whole hash as 32 bytes, so a search reads
the candidates' hashes from the entries it looked up: on SQLite a table WITHOUT ROWID, clustered
by key; on PostgreSQL a primary key that INCLUDEs the hash (index-only scans). The chunk indexes
of ``photos`` are no longer read and are dropped; its chunk columns stay. Existing photos are
indexed here.

Revision ID: 0006_photo_bands
Revises: 0005_seed_alerts
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_photo_bands"
down_revision = "0005_seed_alerts"
branch_labels = None
depends_on = None

CHUNKS = 16  # archive.catalog.photohashes.CHUNKS and CHUNK_BITS, frozen as this revision has them
CHUNK_BITS = 16
BATCH = 5_000


def _bands(photo_id: int, pdq: str) -> list[dict[str, object]]:
    value = int(pdq, 16)
    whole = value.to_bytes(32, "big")
    mask = (1 << CHUNK_BITS) - 1
    return [
        {
            "key": (band << CHUNK_BITS) | ((value >> (CHUNK_BITS * (CHUNKS - 1 - band))) & mask),
            "photo_id": photo_id,
            "pdq": whole,
        }
        for band in range(CHUNKS)
    ]


def upgrade() -> None:
    bands = op.create_table(
        "photo_bands",
        sa.Column("key", sa.Integer, nullable=False),
        sa.Column("photo_id", sa.Integer, nullable=False),
        sa.Column("pdq", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("key", "photo_id", postgresql_include=["pdq"]),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    photos = sa.table("photos", sa.column("id", sa.Integer), sa.column("pdq", sa.String))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(photos.c.id, photos.c.pdq)
            .where(photos.c.id > last)
            .order_by(photos.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        bind.execute(bands.insert(), [b for photo_id, pdq in rows for b in _bands(photo_id, pdq)])
        last = rows[-1][0]
    for i in range(CHUNKS):
        op.drop_index(f"ix_photos_c{i}", table_name="photos")


def downgrade() -> None:
    for i in range(CHUNKS):
        op.create_index(f"ix_photos_c{i}", "photos", [f"c{i}"])
    op.drop_table("photo_bands")
