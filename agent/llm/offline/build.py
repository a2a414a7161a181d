"""Building the case library and fitting the calibration, from scenarios reserved for it.

For each seed of `LIBRARY_SEEDS`: generate a scenario, ingest it, reconcile it, label its
exceptions from the ground truth, and gather each case's evidence exactly as the graph does.
The labelled feature texts become `library/generated.jsonl`. The calibration map is fitted on
held-out predictions: each seed's cases are scored against a library built from the *other*
seeds, so the fitted confidence is what the backend earns on scenarios it has not seen.

Run with `triage library build`; the evals refuse case sets made from these seeds.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.llm.base import CaseInput
from agent.llm.offline.backend import CALIBRATION_PATH, OfflineBackend, feature_text
from agent.llm.offline.calibration import Calibrator, fit_isotonic
from agent.llm.offline.library import LIBRARY_DIR, LIBRARY_SEEDS, LibraryCase, write_cases
from agent.llm.offline.signals import Facts


@dataclass
class LabelledCase:
    seed: int
    case: CaseInput
    label: LibraryCase


def cases_of_seed(seed: int, *, accounts: int, months: int, start: str, workdir: Path) -> list[LabelledCase]:
    """Generate → ingest → reconcile → label → gather, for one reserved seed."""
    from agent.evidence import plain, read_exception, tools_runner
    from billing.db import transaction
    from billing.ingest.folder import ingest_folder
    from billing.migrate import create_engine_and_upgrade
    from billing.reconcile.run import reconcile
    from billing.scenarios.scenario import generate_scenario
    from billing.scenarios.truth import match_truth
    from billing.scenarios.truth_model import read_truth

    folder = workdir / f"seed-{seed}"
    summary = generate_scenario(seed=seed, accounts=accounts, months=months, start=start, out=folder / "data")
    engine = create_engine_and_upgrade(f"sqlite:///{folder / 'library.db'}")
    ingest_folder(engine, folder / "data")
    reconcile(engine, as_of=summary.as_of)
    with transaction(engine) as session:
        matched = match_truth(session, read_truth(folder / "data" / "truth.jsonl"))
        exceptions = {eid: read_exception(session, eid) for eid in matched}
    out: list[LabelledCase] = []
    for eid, entry in sorted(matched.items()):
        exc = exceptions[eid]
        category, action, escalate_to = entry.labels_for(exc["rule"])
        case = CaseInput(case_id=f"{seed}:{eid}", exception=exc, evidence=plain(tools_runner(engine, eid)))
        text = feature_text(Facts(case))
        out.append(LabelledCase(seed, case, LibraryCase(case_id=f"{seed}:{eid}", text=text, category=category,
                                                        action=action, escalate_to=escalate_to,
                                                        source=f"generated:{seed}")))
    engine.dispose()
    return out


def build_library(*, seeds: tuple[int, ...] = LIBRARY_SEEDS, accounts: int = 30, months: int = 2,
                  start: str = "2026-08", out_dir: Path = LIBRARY_DIR,
                  progress: Callable[[str], None] = print) -> dict[str, float]:
    """Build the library and fit the calibration; returns figures of the held-out fit."""
    from knowledge.embedding import MiniLMEmbeddingFunction

    embed = MiniLMEmbeddingFunction()
    labelled: list[LabelledCase] = []
    with tempfile.TemporaryDirectory(prefix="triage-library-") as tmp:
        for seed in seeds:
            cases = cases_of_seed(seed, accounts=accounts, months=months, start=start, workdir=Path(tmp))
            progress(f"seed {seed}: {len(cases)} labelled cases")
            labelled += cases
    scores: list[float] = []
    correct: list[bool] = []
    for seed in seeds:
        others = [c.label for c in labelled if c.seed != seed]
        backend = OfflineBackend(library_cases=others, calibrator=Calibrator((), ()), embed=embed)
        for item in (c for c in labelled if c.seed == seed):
            ranked, _votes, raw = backend.score(item.case)
            scores.append(raw)
            correct.append(ranked[0].category.value == item.label.category)
    calibrator = fit_isotonic(scores, correct)
    write_cases(out_dir / "generated.jsonl", [c.label for c in labelled])
    (out_dir / "calibration.json").write_text(calibrator.to_json() + "\n")
    accuracy = sum(correct) / len(correct) if correct else 0.0
    figures = {"cases": float(len(labelled)), "held_out_accuracy": round(accuracy, 4),
               "mean_raw_score": round(sum(scores) / len(scores), 4) if scores else 0.0}
    progress(f"library: {len(labelled)} cases; held-out accuracy {accuracy:.3f}; calibration at {CALIBRATION_PATH}")
    return figures
