"""The catalog: one row per capture, plus the custody log (SQLAlchemy 2, Alembic migrations).

SQLite inside the store by default; PostgreSQL when ``LASTSEEN_DB`` is a ``postgresql://`` URL,
so that many crawler processes can share one catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    String,
    Text,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from archive.exceptions import CatalogError
from archive.times import rfc3339_or_none

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works: it only has to be the same in every process sharing the database.
_PG_LOCK_KEY = 0x1A57_5EE4


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps go in and come out as aware UTC datetimes, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the catalog; all times are UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class CaptureRow(Base):
    __tablename__ = "captures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    case_id: Mapped[str | None] = mapped_column(String(200), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    operator: Mapped[str | None] = mapped_column(String(200))
    warc_name: Mapped[str] = mapped_column(Text)
    warc_location: Mapped[str] = mapped_column(Text)
    warc_sha256: Mapped[str] = mapped_column(String(64))
    warc_size: Mapped[int] = mapped_column(BigInteger)
    # Record locations in the WARC file: {"main": {"offset", "length", "record_id"}, ...}
    records: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    screenshot_sha256: Mapped[str | None] = mapped_column(String(64))
    dom_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    exchanges: Mapped[int] = mapped_column(Integer, default=0)
    network_idle: Mapped[bool | None] = mapped_column(Boolean)
    software: Mapped[str | None] = mapped_column(String(200))
    browser: Mapped[str | None] = mapped_column(String(200))
    # The queue's job this capture answers (archive.catalog.queue); unique: a job seals once.
    job_id: Mapped[int | None] = mapped_column(Integer, unique=True)


class CustodyRow(Base):
    """One entry of the append-only, hash-chained custody log."""

    __tablename__ = "custody"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    capture_id: Mapped[int | None] = mapped_column(Integer, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


def _sqlite_serialised_writes(engine: Engine) -> None:
    """Every SQLite transaction takes the write lock up front (BEGIN IMMEDIATE).

    The custody chain reads the last entry and appends the next one: two processes doing that
    under a deferred transaction could both read the same head. pysqlite's own transaction
    handling is switched off so that SQLAlchemy's begin is the only one.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Catalog:
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            if url.startswith("sqlite"):
                self.engine = create_engine(
                    url, connect_args={"timeout": 30, "check_same_thread": False}
                )
                _sqlite_serialised_writes(self.engine)
            else:
                self.engine = create_engine(url, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError) as exc:
            raise CatalogError(f"cannot use catalog database {url!r}: {exc}") from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def migrate(self) -> None:
        """Bring the schema to the newest revision (every head, if features branched)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with self.engine.begin() as conn:
                if self.is_postgresql:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "heads")
        except OperationalError as exc:
            raise CatalogError(f"cannot open catalog database {self.safe_url}: {exc.orig}") from exc

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on a clean exit, rolled back on an exception."""
        with self._sessions() as session, session.begin():
            yield session

    def lock_custody(self, session: Session) -> None:
        """Serialise custody appends across processes (SQLite already holds its write lock)."""
        if self.is_postgresql:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})

    def get(self, capture_id: int) -> CaptureRow | None:
        with self.session() as s:
            return s.get(CaptureRow, capture_id)

    def list(self, case_id: str | None = None) -> list[CaptureRow]:
        query = select(CaptureRow).order_by(CaptureRow.id)
        if case_id is not None:
            query = query.where(CaptureRow.case_id == case_id)
        with self.session() as s:
            return list(s.scalars(query))

    def dispose(self) -> None:
        self.engine.dispose()


def capture_summary(row: CaptureRow) -> dict[str, Any]:
    """A capture as the CLI's and the API's JSON show it."""
    return {
        "id": row.id,
        "url": row.url,
        "final_url": row.final_url,
        "http_status": row.http_status,
        "outcome": row.outcome,
        "error": row.error,
        "captured_at": rfc3339_or_none(row.captured_at),
        "finished_at": rfc3339_or_none(row.finished_at),
        "case": row.case_id,
        "note": row.note,
        "operator": row.operator,
        "warc": row.warc_location,
        "warc_sha256": row.warc_sha256,
        "warc_size": row.warc_size,
        "payload_sha256": row.payload_sha256,
        "screenshot_sha256": row.screenshot_sha256,
        "dom_sha256": row.dom_sha256,
        "pdf_sha256": row.pdf_sha256,
        "exchanges": row.exchanges,
        "network_idle": row.network_idle,
        "browser": row.browser,
        "software": row.software,
    }
