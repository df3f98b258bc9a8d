"""Opening an alert store by URL: SQLite (a path or ``sqlite://``) or PostgreSQL (``postgresql://``).
Kept apart from both back ends so neither imports the other."""

from __future__ import annotations

from lanner.console.postgres import PostgresStore
from lanner.console.store import SQLiteStore, SqlStore


def open_store(url: str) -> SqlStore:
    """``postgresql://…`` (or ``postgres://``) opens PostgreSQL; anything else is a SQLite file path."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    path = url[len("sqlite://"):] if url.startswith("sqlite://") else url
    return SQLiteStore(path)
