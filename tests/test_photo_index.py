"""The photo search's index (``photo_bands``) finds exactly what comparing every stored hash
finds, at every distance, on SQLite and PostgreSQL; photos stored before it existed are indexed
by its migration; a photo derived again or forgotten leaves the index with it."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, select, text

from archive.catalog import findings, photohashes
from archive.catalog.db import MIGRATIONS, CaptureRow, Catalog
from archive.catalog.photohashes import PhotoBand, PhotoRow

AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _catalog(db_url: str | None, store: Path) -> Catalog:
    store.mkdir(parents=True, exist_ok=True)
    return Catalog(db_url or f"sqlite:///{store / 'catalog.sqlite'}")


def _flip(rng: random.Random, value: int, bits: int) -> int:
    for p in rng.sample(range(256), bits):
        value ^= 1 << p
    return value


def _hashes(rng: random.Random) -> list[str]:
    """Random hashes, and near copies of some at 1 to 40 bits (across the distance limit)."""
    base = [rng.getrandbits(256) for _ in range(300)]
    near = [_flip(rng, rng.choice(base), rng.randrange(1, 41)) for _ in range(600)]
    return [f"{v:064x}" for v in base + near]


def _capture(session: object, capture_id: int, case: str) -> None:
    session.add(  # type: ignore[attr-defined]
        CaptureRow(
            id=capture_id,
            url=f"http://x/{capture_id}",
            outcome="ok",
            case_id=case,
            captured_at=AT,
            finished_at=AT,
            warc_name="w",
            warc_location="w",
            warc_sha256="0" * 64,
            warc_size=1,
            records={},
            exchanges=0,
        )  # fmt: skip
    )


def _photo(capture_id: int, pdq: str) -> PhotoRow:
    return PhotoRow(
        capture_id=capture_id, record_id=f"<urn:uuid:{capture_id}>", record_sha256="0" * 64,
        warc_name="w", url=f"http://x/{pdq[:8]}.jpg", pdq=pdq, quality=100, width=640,
        height=480, **PhotoRow.chunk_columns(pdq),
    )  # fmt: skip


def test_the_index_finds_what_comparing_every_hash_finds(db_url: str | None, store: Path) -> None:
    rng = random.Random(14)
    stored = _hashes(rng)
    catalog = _catalog(db_url, store)
    catalog.migrate()
    try:
        with catalog.session() as s:
            for n in range(1, 31):
                _capture(s, n, f"CASE-{n % 3}")
            photos = [_photo(1 + i % 30, pdq) for i, pdq in enumerate(stored)]
            s.add_all(photos)
            s.flush()
            photohashes.index(s, photos)
        queries = [*rng.sample(stored, 40), *(f"{rng.getrandbits(256):064x}" for _ in range(5))]
        queries += [f"{_flip(rng, int(q, 16), rng.randrange(1, 32)):064x}" for q in stored[:20]]
        with catalog.session() as s:
            everything = [(p.id, int(p.pdq, 16), p.capture_id) for p in s.scalars(select(PhotoRow))]
            cases = {c.id: c.case_id for c in s.scalars(select(CaptureRow))}
            for query in queries:
                for distance in (0, 4, 15, 16, 31):
                    for case in (None, "CASE-1"):
                        found = photohashes.similar(s, query, distance, case)
                        expected = sorted(
                            (d, pid)
                            for pid, value, cid in everything
                            if (d := (int(query, 16) ^ value).bit_count()) <= distance
                            and case in (None, cases[cid])
                        )
                        assert sorted((d, p.id) for d, p, _ in found) == expected
                        assert [d for d, _, _ in found] == sorted(d for d, _, _ in found)
            assert sum(len(photohashes.similar(s, q, 31)) for q in queries) > len(queries)
            # Forgetting a capture's derived data takes its photos out of the index.
            before = s.scalar(select(func.count()).select_from(PhotoBand))
            gone = [p for p in everything if p[2] == 7]
            findings.forget(s, [7])
            after = s.scalar(select(func.count()).select_from(PhotoBand))
            assert before - after == 16 * len(gone) and gone
            assert not any(p.capture_id == 7 for _, p, _ in photohashes.similar(s, query, 31))
    finally:
        catalog.dispose()


def test_photos_stored_before_the_index_are_indexed_by_its_migration(
    db_url: str | None, store: Path
) -> None:
    catalog = _catalog(db_url, store)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    rng = random.Random(6)
    stored = [f"{rng.getrandbits(256):064x}" for _ in range(50)]
    try:
        with catalog.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0005_seed_alerts")
        with catalog.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO photos (capture_id, record_id, record_sha256, warc_name, url, "
                    "pdq, quality, width, height, "
                    + ", ".join(f"c{i}" for i in range(16))
                    + ") VALUES (1, 'r', 's', 'w', 'u', :pdq, 100, 640, 480, "
                    + ", ".join(f":c{i}" for i in range(16))
                    + ")"
                ),
                [{"pdq": pdq, **PhotoRow.chunk_columns(pdq)} for pdq in stored],
            )
        catalog.migrate()
        with catalog.session() as s:
            _capture(s, 1, "OLD")
        with catalog.session() as s:
            assert s.scalar(select(func.count()).select_from(PhotoBand)) == 16 * len(stored)
            for pdq in stored:
                near = f"{_flip(rng, int(pdq, 16), 20):064x}"
                (found,) = photohashes.similar(s, near, 31)
                assert (found[0], found[1].pdq) == (20, pdq)
    finally:
        catalog.dispose()


@pytest.mark.parametrize("distance", [-1, 32])
def test_a_distance_the_index_cannot_answer_is_refused(store: Path, distance: int) -> None:
    catalog = _catalog(None, store)
    catalog.migrate()
    try:
        with catalog.session() as s, pytest.raises(ValueError, match="distance must be 0 to 31"):
            photohashes.similar(s, "0" * 64, distance)
    finally:
        catalog.dispose()
