"""The sandbox's one store: SQLite from the standard library, one connection.

Every entity is a row with the columns that filters and sorts need plus ``doc``, the full
JSON document as the service prints it (text). A GET by id reads ``doc`` and splices it into
the envelope without decoding it. All services of one process share the connection; they
run on one event loop, so the statements never interleave.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_DB_PATH = ".sandbox/tracseq.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
    salt TEXT NOT NULL, password_hash TEXT NOT NULL, created_at TEXT NOT NULL,
    doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, refresh_hash TEXT NOT NULL,
    created_at TEXT NOT NULL, expires_at TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS samples (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, barcode TEXT NOT NULL UNIQUE,
    sample_type TEXT NOT NULL, status TEXT NOT NULL, template_id TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS samples_status ON samples (status, created_at);
CREATE INDEX IF NOT EXISTS samples_type ON samples (sample_type, created_at);
CREATE INDEX IF NOT EXISTS samples_template ON samples (template_id, created_at);
CREATE INDEX IF NOT EXISTS samples_created ON samples (created_at);

CREATE TABLE IF NOT EXISTS templates (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,
    created_at TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS template_fields (
    id TEXT PRIMARY KEY, template_id TEXT NOT NULL, sort_order INTEGER NOT NULL,
    doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS template_fields_template ON template_fields (template_id, sort_order);

CREATE TABLE IF NOT EXISTS locations (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY, location_id TEXT NOT NULL, parent_id TEXT,
    container_type TEXT NOT NULL, name TEXT NOT NULL, occupied INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS containers_parent ON containers (parent_id, name);
CREATE INDEX IF NOT EXISTS containers_location ON containers (location_id);
CREATE INDEX IF NOT EXISTS containers_type ON containers (container_type);
CREATE TABLE IF NOT EXISTS sample_locations (
    sample_id TEXT PRIMARY KEY, container_id TEXT NOT NULL UNIQUE, location_id TEXT NOT NULL,
    doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sample_locations_location ON sample_locations (location_id);

CREATE TABLE IF NOT EXISTS sample_sheets (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sheet_samples (
    sheet_id TEXT NOT NULL, sample_id TEXT NOT NULL, PRIMARY KEY (sheet_id, sample_id));
CREATE INDEX IF NOT EXISTS sheet_samples_sample ON sheet_samples (sample_id);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, priority TEXT NOT NULL,
    priority_rank INTEGER NOT NULL, platform_id TEXT NOT NULL, platform_name TEXT,
    sample_sheet_id TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_sheet ON jobs (sample_sheet_id);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);

CREATE TABLE IF NOT EXISTS notifications (
    id TEXT PRIMARY KEY, created_at TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS notifications_created ON notifications (created_at);

CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, category TEXT NOT NULL, body TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS passages USING fts5 (
    title, body, doc_id UNINDEXED, tokenize = 'porter unicode61');
CREATE TABLE IF NOT EXISTS submissions (
    id TEXT PRIMARY KEY, created_at TEXT NOT NULL, doc TEXT NOT NULL);
"""


class Store:
    """One SQLite connection with small query helpers."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=OFF")
        self.conn.executescript(_SCHEMA)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row, or None."""
        return self.conn.execute(sql, params).fetchone()

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.conn.execute(sql, params).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute a statement; the number of rows it changed."""
        return self.conn.execute(sql, params).rowcount

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def next_counter(self, name: str, start: int = 0) -> int:
        """A persistent counter (e.g. the sequence number of generated barcodes)."""
        current = self.value("SELECT value FROM meta WHERE key = ?", (name,))
        value = (int(current) if current is not None else start) + 1
        self.run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (name, str(value)))
        return value

    def is_empty(self) -> bool:
        return self.value("SELECT value FROM meta WHERE key = 'seeded'") is None

    def close(self) -> None:
        self.conn.close()


# Bumped whenever the stored shapes change: a file seeded by another version is reseeded.
SEED_VERSION = "2"


def open_store(db_path: str | None = None, memory: bool = False, reset: bool = False) -> Store:
    """Open (and seed when empty) the sandbox store.

    ``memory`` uses a private in-memory database; otherwise ``db_path`` (default
    ``.sandbox/tracseq.db``) keeps changes across restarts, and ``reset`` deletes it first,
    as does a file seeded by another ``SEED_VERSION``.
    """
    from sandbox.seed import seed

    if memory:
        store = Store(":memory:")
    else:
        path = Path(db_path or DEFAULT_DB_PATH)
        if reset or _seeded_by_another_version(path):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        store = Store(str(path))
    if store.is_empty():
        with store.transaction() as conn:
            seed(conn)
            conn.execute("INSERT INTO meta (key, value) VALUES ('seeded', ?)", (SEED_VERSION,))
    return store


def _seeded_by_another_version(path: Path) -> bool:
    if not path.exists():
        return False
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'seeded'").fetchone()
    except sqlite3.DatabaseError:
        return True  # not a store of ours at all
    finally:
        conn.close()
    return row is not None and row[0] != SEED_VERSION
