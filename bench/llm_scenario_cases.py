"""Capture the `CaseInput`s the triage graph hands a backend, from a generated scenario.

Generates a scenario (`billing.scenarios`), ingests and reconciles it, runs the graph with
the offline backend wrapped so that every `CaseInput` it is given is kept, and writes
routine ones (no outside text, |delta| under the materiality of the settings) as a JSON list —
the input of `bench/llm_tokens.py --cases-file`. At most `--per-kind` cases per rule/kind.

    .venv/bin/python bench/llm_scenario_cases.py --out /tmp/scenario_cases.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from agent.llm.base import CaseInput
from agent.llm.factory import make_backend
from agent.runner import open_triage
from billing.migrate import create_engine_and_upgrade
from billing.settings import LLMSettings, Settings, get_settings


class Recorder:
    """A backend that keeps what it is given and lets the wrapped one answer."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.model, self.prompt_version = inner, inner.name, inner.model, inner.prompt_version
        self.cases: list[CaseInput] = []

    def classify(self, case: CaseInput) -> Any:
        self.cases.append(case)
        return self.inner.classify(case)

    def draft(self, case: CaseInput, classification: Any) -> Any:
        return self.inner.draft(case, classification)

    def repair_draft(self, *args: Any) -> Any:
        return self.inner.repair_draft(*args)


def routine(case: CaseInput, materiality: Decimal) -> bool:
    """No outside text and an amount under materiality: what most nightly exceptions look like."""
    delta = case.exception.get("delta_amount")
    return not case.outside_text and (delta is None or abs(Decimal(str(delta))) < materiality)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--months", type=int, default=2)
    parser.add_argument("--per-kind", type=int, default=2)
    args = parser.parse_args()

    from billing.ingest import ingest_folder
    from billing.reconcile.run import reconcile
    from billing.scenarios import generate_scenario

    with tempfile.TemporaryDirectory(prefix="llm-cases-") as tmp:
        work = Path(tmp)
        base = get_settings()
        settings = Settings(database_url=f"sqlite:///{work}/cases.db", checkpoint_url=f"sqlite:///{work}/ck.db",
                            knowledge=base.knowledge, routing=base.routing, email=base.email,
                            llm=LLMSettings(backend="offline"))
        engine = create_engine_and_upgrade(settings.database_url)
        scenario = generate_scenario(seed=args.seed, accounts=args.accounts, months=args.months, start="2026-07",
                                     out=work / "scenario")
        ingest_folder(engine, work / "scenario")
        reconcile(engine, as_of=scenario.as_of)
        recorder = Recorder(make_backend(settings, engine))
        with open_triage(settings, engine=engine, backend=recorder) as triage:
            triage.batch(progress=False, concurrency=1)
    kept, per_kind = [], Counter[tuple[str, str]]()
    for case in recorder.cases:
        key = (str(case.exception.get("rule")), str(case.exception.get("kind")))
        if routine(case, settings.routing.materiality_usd) and per_kind[key] < args.per_kind:
            per_kind[key] += 1
            kept.append(case.model_dump(mode="json"))
    args.out.write_text(json.dumps(kept) + "\n")
    print(f"{len(recorder.cases)} cases seen, {len(kept)} routine kept ({len(per_kind)} rule/kind) -> {args.out}")


if __name__ == "__main__":
    main()
