"""A fresh, migrated database per eval case: migrate once to a template file, copy it per case.

Copying a migrated SQLite file takes a millisecond; running the migrations takes far longer.
Each case gets its own file, so nothing one case loads or the agent writes (runs, audit,
review items) can be seen by another — the same isolation as a database per case.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

from billing.db import make_engine
from billing.migrate import upgrade_engine


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

    @contextmanager
    def fresh(self) -> Iterator[Engine]:
        """A new migrated database, deleted when the block ends."""
        with self._lock:
            number = next(self._numbers)
        path = self.folder / f"case-{number}.db"
        shutil.copyfile(self.template, path)
        engine = make_engine(f"sqlite:///{path}")
        try:
            yield engine
        finally:
            engine.dispose()
            for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                leftover.unlink(missing_ok=True)

    def close(self) -> None:
        """Remove the template (and the folder, when it was a temporary one)."""
        if self._tmp is not None:
            self._tmp.cleanup()
        else:
            self.template.unlink(missing_ok=True)

    def __enter__(self) -> CaseDatabases:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
