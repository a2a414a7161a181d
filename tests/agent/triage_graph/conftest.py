"""Fixtures of the graph tests: settings, a fake backend and retriever, an open `Triage`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

# The repository root first: otherwise `tests/agent` (no __init__) shadows the `agent` package.
ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
for _name in [m for m in sys.modules if m == "agent" or m.startswith("agent.")]:
    if getattr(sys.modules[_name], "__file__", None) is None:  # a namespace `agent` picked up earlier
        del sys.modules[_name]

import pytest  # noqa: E402
from sqlalchemy import Engine  # noqa: E402

from agent.runner import Triage, open_triage  # noqa: E402
from billing.settings import Settings  # noqa: E402
from tests.agent.triage_graph.fakes import FakeBackend, FakeRetriever, fake_tools  # noqa: E402

TriageFactory = Callable[..., Triage]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default policy; the checkpoints in a file of this test's own."""
    return Settings(checkpoint_url=f"sqlite:///{tmp_path}/checkpoints.db", database_url="sqlite://")


@pytest.fixture
def backend(settings: Settings) -> FakeBackend:
    return FakeBackend(settings)


@pytest.fixture
def retriever() -> FakeRetriever:
    return FakeRetriever()


@pytest.fixture
def make_triage(engine: Engine, settings: Settings, backend: FakeBackend,
                retriever: FakeRetriever) -> Iterator[TriageFactory]:
    """Open a `Triage` on the test database (more than one may be open, like two processes)."""
    stack = []

    def factory(**overrides: object) -> Triage:
        kwargs: dict[str, object] = {"settings": settings, "engine": engine, "backend": backend, "retriever": retriever,
                                         "run_tools": fake_tools}
        kwargs.update(overrides)
        cm = open_triage(**kwargs)  # type: ignore[arg-type]
        stack.append(cm)
        return cm.__enter__()

    yield factory
    for cm in reversed(stack):
        cm.__exit__(None, None, None)
