"""Choose the backend from the settings: `openai` when configured, `offline` otherwise.

``llm.backend`` = ``offline`` or ``openai`` forces one; ``auto`` (the default) picks `openai`
only when an API key or a base URL is configured, so a fresh machine always has a working
backend. Imports are lazy: the offline backend never loads the OpenAI SDK and vice versa.

The offline backend's case library is its shipped, generated cases plus the decisions
people made in the review queue of this database (`case_examples`), when an engine is given.
"""

from __future__ import annotations

import importlib
from typing import Any, Literal

from sqlalchemy import Engine, select

from agent.llm.base import Backend
from agent.schemas import Category
from agent.sessions import sessions
from agent.taxonomy import usual_resolution
from billing.models import CaseExample
from billing.settings import Settings

BackendName = Literal["offline", "openai"]


def backend_name(settings: Settings) -> BackendName:
    """Which backend `settings` select (``auto`` resolved)."""
    llm = settings.llm
    if llm.backend == "auto":
        return "openai" if (llm.api_key or llm.base_url) else "offline"
    return llm.backend


def make_backend(settings: Settings, engine: Engine | None = None) -> Backend:
    """The configured backend, ready to classify and draft."""
    if backend_name(settings) == "openai":
        openai_backend = importlib.import_module("agent.llm.openai_backend")
        backend: Backend = openai_backend.OpenAIBackend(settings.llm, email=settings.email)
        return backend
    offline = importlib.import_module("agent.llm.offline.backend")
    library = importlib.import_module("agent.llm.offline.library")
    cases = library.read_cases(library.LIBRARY_DIR / "generated.jsonl")
    if engine is not None:
        cases += reviewed_cases(engine, library.LibraryCase)
    offline_backend: Backend = offline.OfflineBackend(contacts=settings.email, library_cases=cases,
                                                      write_off_below_usd=settings.routing.write_off_below_usd,
                                                      bank_fee_below_usd=settings.routing.bank_fee_write_off_below_usd)
    return offline_backend


def reviewed_cases(engine: Engine, make: Any) -> list[Any]:
    """The labelled examples people confirmed in review (rejections carry no label: skipped)."""
    with sessions(engine)() as session:
        rows = session.scalars(
            select(CaseExample).where(CaseExample.decision != "reject").order_by(CaseExample.id)
        ).all()
    cases = []
    for row in rows:
        usual = usual_resolution(Category(row.category), row.channel)
        cases.append(make(case_id=f"review:{row.exception_id}", text=row.text, category=row.category,
                          action=row.action or usual.action.value,
                          escalate_to=row.escalate_to or usual.escalate_to.value,
                          source=f"review:{row.reviewer}"))
    return cases
