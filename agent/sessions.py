"""Sessions for the agent's writes and reads, with one session factory per engine.

`billing.db.session_factory` builds a new `sessionmaker` (a new Session subclass) per call,
~0.5 ms each; a batch opens several sessions per case, so the agent keeps one per engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from billing.db import session_factory


@lru_cache(maxsize=32)
def sessions(engine: Engine) -> sessionmaker[Session]:
    """The session factory of `engine` (objects stay usable after commit)."""
    return session_factory(engine)


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back everything on any error."""
    with sessions(engine)() as session, session.begin():
        yield session
