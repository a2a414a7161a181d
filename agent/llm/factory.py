"""Choose the backend from the settings: `openai` when configured, `offline` otherwise.

``llm.backend`` = ``offline`` or ``openai`` forces one; ``auto`` (the default) picks `openai`
only when an API key or a base URL is configured, so a fresh machine always has a working
backend. Imports are lazy: the offline backend never loads the OpenAI SDK and vice versa.
"""

from __future__ import annotations

import importlib
from typing import Literal

from agent.llm.base import Backend
from billing.settings import Settings

BackendName = Literal["offline", "openai"]


def backend_name(settings: Settings) -> BackendName:
    """Which backend `settings` select (``auto`` resolved)."""
    llm = settings.llm
    if llm.backend == "auto":
        return "openai" if (llm.api_key or llm.base_url) else "offline"
    return llm.backend


def make_backend(settings: Settings) -> Backend:
    """The configured backend, ready to classify and draft."""
    if backend_name(settings) == "openai":
        openai_backend = importlib.import_module("agent.llm.openai_backend")
        backend: Backend = openai_backend.OpenAIBackend(settings.llm, email=settings.email)
        return backend
    offline = importlib.import_module("agent.llm.offline")
    return _construct_offline(offline.OfflineBackend, settings)


def _construct_offline(cls: type, settings: Settings) -> Backend:
    # The offline backend takes the settings (for the contacts its templates address).
    backend: Backend = cls(settings)
    return backend
