"""Backend choice and checkpoint URLs."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.checkpoint import CheckpointURLError, open_checkpointer, postgres_conninfo, sqlite_path
from agent.llm.factory import backend_name
from billing.settings import LLMSettings, Settings


@pytest.mark.parametrize(("llm", "expected"), [
    (LLMSettings(backend="auto"), "offline"),
    (LLMSettings(backend="auto", api_key="sk-test"), "openai"),
    (LLMSettings(backend="auto", base_url="http://127.0.0.1:8080/v1"), "openai"),
    (LLMSettings(backend="offline", api_key="sk-test"), "offline"),
    (LLMSettings(backend="openai"), "openai"),
])
def test_backend_choice(llm: LLMSettings, expected: str) -> None:
    """DESIGN.md: the offline backend is the default when no key or server is configured."""
    assert backend_name(Settings(llm=llm)) == expected


def test_checkpoint_urls() -> None:
    assert sqlite_path("sqlite:///.triage/checkpoints.db") == ".triage/checkpoints.db"
    assert sqlite_path("sqlite:////tmp/cp.db") == "/tmp/cp.db"
    assert sqlite_path("sqlite://") == ":memory:"
    assert postgres_conninfo("postgresql+psycopg://u@h:5432/db?x=1") == "postgresql://u@h:5432/db?x=1"
    with pytest.raises(CheckpointURLError, match="expected sqlite"), open_checkpointer("redis://h"):
        pass


def test_sqlite_checkpointer_creates_its_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/deep/cp.db"
    with open_checkpointer(url) as saver:
        assert saver.get_tuple({"configurable": {"thread_id": "none"}}) is None
    assert (tmp_path / "deep" / "cp.db").exists()
