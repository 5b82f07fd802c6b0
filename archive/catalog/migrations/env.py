"""Alembic environment: always run with the connection the catalog hands over (online mode)."""

from __future__ import annotations

from alembic import context

from archive.catalog.db import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
context.run_migrations()
