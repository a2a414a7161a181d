"""Where the graph keeps its checkpoints: LangGraph's SQLite saver by default, its PostgreSQL
saver when `settings.checkpoint_url` is a ``postgresql://`` URL, memory for benchmarks.

A case waiting for review lives in its checkpoint; any process opening the same URL can
resume it. Both savers are created with their tables set up (``setup()``, idempotent).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from psycopg import Connection
from psycopg.rows import dict_row


class CheckpointURLError(ValueError):
    """A checkpoint URL we cannot open."""


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite:///path`` URL (``:memory:`` for ``sqlite://`` or ``sqlite:///:memory:``)."""
    rest = url.split("://", 1)[1] if "://" in url else url
    if rest in ("", "/", "/:memory:"):
        return ":memory:"
    return rest.removeprefix("/")


def postgres_conninfo(url: str) -> str:
    """A libpq URL for psycopg: the SQLAlchemy driver suffix (``+psycopg``) removed."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith(("postgresql", "postgres")) else url


@contextmanager
def open_checkpointer(url: str) -> Iterator[BaseCheckpointSaver[str]]:
    """A ready saver for `url` (``sqlite:///…``, ``postgresql://…`` or ``memory://``), closed on exit."""
    if url.startswith("memory:"):
        yield InMemorySaver()
        return
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # The saver serialises access with its own lock, so one connection may serve threads.
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        try:
            # WAL: a reviewer's process can resume a case while a batch writes other threads.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            saver = SqliteSaver(conn)
            saver.setup()
            yield saver
        finally:
            conn.close()
        return
    if url.startswith(("postgresql", "postgres:")):
        with Connection.connect(postgres_conninfo(url), autocommit=True, prepare_threshold=0,
                                row_factory=dict_row) as conn:
            pg = PostgresSaver(conn)  # type: ignore[arg-type]
            pg.setup()
            yield pg
        return
    raise CheckpointURLError(f"checkpoint_url {url!r}: expected sqlite:///path, postgresql://… or memory://")
