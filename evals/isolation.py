"""A fresh, migrated database per eval case: migrate once to a template file, copy it per case.

Copying a migrated SQLite file takes a millisecond; running the migrations takes far longer.
Each case gets its own file, so nothing one case loads or the agent writes (runs, audit,
review items) can be seen by another — the same isolation as a database per case.

The *engine*, though, is reused: each worker thread has one engine whose connections open the
file of the case it is working on (no pool: every checkout connects anew). A new engine per
case would compile every SQL statement again (SQLAlchemy caches compiled statements per
engine), which cost more than loading the case and triaging it together.
"""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.pool import NullPool

from billing.db import make_engine
from billing.migrate import upgrade_engine


class _CaseFile:
    """Where the engine of one worker connects: the file of its current case."""

    def __init__(self) -> None:
        self.path: Path | None = None

    def connect(self) -> sqlite3.Connection:
        if self.path is None:
            raise RuntimeError("no eval case is open on this engine")
        return sqlite3.connect(self.path, check_same_thread=False, timeout=30)


class CaseDatabases:
    """Hands out fresh databases copied from one migrated template, in a folder of its own."""

    def __init__(self, workdir: Path | None = None) -> None:
        self._tmp = None if workdir is not None else tempfile.TemporaryDirectory(prefix="triage-eval-")
        self.folder = workdir if workdir is not None else Path(self._tmp.name)  # type: ignore[union-attr]
        self.folder.mkdir(parents=True, exist_ok=True)
        self.template = self.folder / "template.db"
        engine = make_engine(f"sqlite:///{self.template}")
        try:
            upgrade_engine(engine)
            with engine.begin() as conn:  # fold the WAL into the file, so a plain copy is complete
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            engine.dispose()
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._engines: list[Engine] = []

    def _worker_engine(self) -> tuple[Engine, _CaseFile]:
        local = self._local
        if getattr(local, "engine", None) is None:
            local.target = _CaseFile()
            local.engine = make_engine("sqlite://", creator=local.target.connect, poolclass=NullPool)
            with self._lock:
                self._engines.append(local.engine)
        return local.engine, local.target

    @contextmanager
    def fresh(self) -> Iterator[Engine]:
        """A new migrated database, deleted when the block ends (one open at a time per thread)."""
        with self._lock:
            number = next(self._numbers)
        path = self.folder / f"case-{number}.db"
        shutil.copyfile(self.template, path)
        engine, target = self._worker_engine()
        if target.path is not None:
            raise RuntimeError("this thread already has an eval case open")
        target.path = path
        try:
            yield engine
        finally:
            target.path = None
            for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                leftover.unlink(missing_ok=True)

    def close(self) -> None:
        """Dispose of the engines and remove the template (and the folder, when it was a temporary one)."""
        for engine in self._engines:
            engine.dispose()
        if self._tmp is not None:
            self._tmp.cleanup()
        else:
            self.template.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
