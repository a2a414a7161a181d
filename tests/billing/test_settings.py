"""The one settings object: prefixed names, nested sections, and the OpenAI names every tool exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.llm.factory import backend_name
from billing.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No variable or `.env` of the developer's machine leaks into these tests."""
    monkeypatch.chdir(tmp_path)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "TRIAGE_LLM__API_KEY", "TRIAGE_LLM__BASE_URL",
                 "TRIAGE_LLM__BACKEND"):
        monkeypatch.delenv(name, raising=False)


def test_with_nothing_configured_the_offline_backend_is_chosen() -> None:
    settings = Settings()
    assert (settings.llm.api_key, settings.llm.base_url) == (None, None)
    assert backend_name(settings) == "offline"


def test_the_bare_openai_names_configure_the_llm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8011/v1")
    settings = Settings()
    assert (settings.llm.api_key, settings.llm.base_url) == ("sk-test", "http://127.0.0.1:8011/v1")
    assert backend_name(settings) == "openai"
    assert "sk-test" not in repr(settings)


def test_the_prefixed_names_win_over_the_bare_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://elsewhere/v1")
    monkeypatch.setenv("TRIAGE_LLM__BASE_URL", "http://vllm:8000/v1")
    monkeypatch.setenv("TRIAGE_LLM__BACKEND", "offline")
    settings = Settings()
    assert settings.llm.base_url == "http://vllm:8000/v1"
    assert backend_name(settings) == "offline"


def test_a_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-from-dotenv\nTRIAGE_ROUTING__MATERIALITY_USD=5000\n")
    settings = Settings()
    assert settings.llm.api_key == "sk-from-dotenv"
    assert str(settings.routing.materiality_usd) == "5000"
