"""Run by the resume tests in a NEW Python process: resume one review item and print the result.

    python resume_child.py DATABASE_URL CHECKPOINT_URL ITEM_ID DECISION_JSON
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from agent.review_queue import ReviewDecision  # noqa: E402
from agent.runner import open_triage  # noqa: E402
from billing.db import make_engine  # noqa: E402
from billing.settings import Settings  # noqa: E402
from tests.agent.triage_graph.fakes import FakeBackend, FakeRetriever, fake_tools  # noqa: E402


def main(database_url: str, checkpoint_url: str, item_id: str, decision: str) -> None:
    settings = Settings(database_url=database_url, checkpoint_url=checkpoint_url)
    backend = FakeBackend(settings)
    engine = make_engine(database_url)
    with open_triage(settings, engine=engine, backend=backend, retriever=FakeRetriever(), run_tools=fake_tools) as triage:
        outcome = triage.resume(int(item_id), ReviewDecision.model_validate_json(decision))
    print(json.dumps({"pid": os.getpid(), "status": outcome.status, "category": outcome.category,
                      "backend_calls": backend.calls, "review_item_id": outcome.review_item_id}))


if __name__ == "__main__":
    main(*sys.argv[1:])
