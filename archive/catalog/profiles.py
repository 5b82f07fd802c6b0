"""Browser profiles kept in a shared (PostgreSQL) catalog, so that every worker can sign in.

Only the encrypted form is stored here: the key stays with the workers (``LASTSEEN_PROFILE_KEY``),
and nothing in the archive ever decrypts it. The captures' evidence never holds a profile.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.catalog.db import Base, UTCDateTime


class ProfileRow(Base):
    __tablename__ = "profiles"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[str] = mapped_column(Text)  # the Fernet token of the profile
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


def load(session: Session, name: str) -> str | None:
    row = session.get(ProfileRow, name)
    return row.sealed if row is not None else None


def save(session: Session, name: str, sealed: str, now: datetime) -> None:
    row = session.get(ProfileRow, name)
    if row is None:
        session.add(ProfileRow(name=name, sealed=sealed, updated_at=now))
    else:
        row.sealed, row.updated_at = sealed, now


def delete(session: Session, name: str) -> bool:
    row = session.get(ProfileRow, name)
    if row is None:
        return False
    session.delete(row)
    return True


def names(session: Session) -> list[str]:
    return list(session.scalars(select(ProfileRow.name).order_by(ProfileRow.name)))
