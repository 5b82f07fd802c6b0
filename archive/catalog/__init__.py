"""The catalog (SQLAlchemy; SQLite by default, PostgreSQL to share): captures, custody, watches."""
