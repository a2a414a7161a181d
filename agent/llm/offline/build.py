"""Building the case library and fitting the calibration, from scenarios reserved for it.

For each seed of `LIBRARY_SEEDS`: generate a scenario, ingest it, reconcile it, label its
exceptions from the ground truth, and gather each case's evidence exactly as the graph does.
The labelled feature texts become `library/generated.jsonl`. The calibration map is fitted on
held-out predictions: each seed's cases are scored against a library built from the *other*
seeds, so the fitted confidence is what the backend earns on scenarios it has not seen.

A second map is fitted for exceptions whose rule we do not know (raised by another tool): the
same scenarios' exceptions are restated the way an imported one arrives (`restate_as_imported`:
a rule and kind we have never seen, none of our rules' details, only the record ids an outside
tool knows), their evidence gathered again, and the inference's raw scores fitted against the
truth (`calibration_imported.json`). It is fitted on these seeds only, never on an eval set.

Run with `triage library build`; the evals refuse case sets made from these seeds.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from agent.llm.base import CaseInput
from agent.llm.offline.backend import CALIBRATION_PATH, IMPORTED_CALIBRATION_PATH, OfflineBackend, feature_text
from agent.llm.offline.calibration import Calibrator, fit_isotonic
from agent.llm.offline.library import LIBRARY_DIR, LIBRARY_SEEDS, LibraryCase, write_cases
from agent.llm.offline.signals import Facts


#: How a restated exception names itself: a rule and kind no table of ours holds, and words that
#: hint at nothing, so the fitted map is what the evidence alone earns.
IMPORTED_RULE, IMPORTED_KIND = "library-import", "EXCEPTION"
#: Record references an outside tool can know (partner and customer-facing ids).
OUTSIDE_REFS = frozenset({"billing_events", "invoices", "payments", "partner_usage", "metering_results",
                          "credit_notes", "refund_requests", "agreements"})


@dataclass
class LabelledCase:
    seed: int
    case: CaseInput
    label: LibraryCase


def restate_as_imported(engine: Engine) -> None:
    """Rewrite every exception of a scratch database the way another tool's would arrive:
    unknown rule and kind, no computed details, a terse description, outside ids only."""
    from sqlalchemy import select

    from billing.db import transaction
    from billing.models import Discrepancy

    with transaction(engine) as session:
        for exc in session.scalars(select(Discrepancy)):
            exc.rule, exc.kind = IMPORTED_RULE, IMPORTED_KIND
            exc.details = {"source_system": IMPORTED_RULE}
            exc.description = (f"{IMPORTED_RULE} {IMPORTED_KIND}: {exc.period}; expected {exc.expected_amount}, "
                               f"actual {exc.observed_amount}")
            exc.record_refs = {k: v for k, v in (exc.record_refs or {}).items() if k in OUTSIDE_REFS}
            exc.source = "import"


def cases_of_seed(seed: int, *, accounts: int, months: int, start: str, workdir: Path,
                  imported: list[LabelledCase] | None = None) -> list[LabelledCase]:
    """Generate → ingest → reconcile → label → gather, for one reserved seed.

    With `imported`, the same exceptions restated as another tool's (`restate_as_imported`) are
    gathered again and appended to it, with the same labels."""
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
    if imported is not None:
        restate_as_imported(engine)
        for item in out:
            eid = int(item.case.case_id.split(":", 1)[1])
            with transaction(engine) as session:
                exc = read_exception(session, eid)
            case = CaseInput(case_id=f"{item.case.case_id}:imported", exception=exc,
                             evidence=plain(tools_runner(engine, eid)))
            imported.append(LabelledCase(seed, case, item.label))
    engine.dispose()
    return out


def cases_of_seeds(seeds: tuple[int, ...], *, accounts: int, months: int, start: str,
                   progress: Callable[[str], None]) -> tuple[list[LabelledCase], list[LabelledCase]]:
    """The labelled cases of every seed, and the same cases restated as imported from another tool."""
    labelled: list[LabelledCase] = []
    imported: list[LabelledCase] = []
    with tempfile.TemporaryDirectory(prefix="triage-library-") as tmp:
        for seed in seeds:
            cases = cases_of_seed(seed, accounts=accounts, months=months, start=start, workdir=Path(tmp),
                                  imported=imported)
            progress(f"seed {seed}: {len(cases)} labelled cases")
            labelled += cases
    return labelled, imported


def build_library(*, seeds: tuple[int, ...] = LIBRARY_SEEDS, accounts: int = 30, months: int = 2,
                  start: str = "2026-08", out_dir: Path = LIBRARY_DIR,
                  progress: Callable[[str], None] = print) -> dict[str, float]:
    """Build the library and fit the calibration; returns figures of the held-out fit."""
    from knowledge.embedding import MiniLMEmbeddingFunction

    embed = MiniLMEmbeddingFunction()
    labelled, imported = cases_of_seeds(seeds, accounts=accounts, months=months, start=start, progress=progress)
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
    figures |= fit_imported(imported, out_dir=out_dir, progress=progress)
    return figures


def fit_imported(imported: list[LabelledCase], *, out_dir: Path = LIBRARY_DIR,
                 progress: Callable[[str], None] = print) -> dict[str, float]:
    """Fit and write the map of raw score to probability for exceptions of unknown rules.

    The inference does not use the neighbours (their feature texts name our rules), so no case
    of the library is held out: the scores are the same whichever library the backend holds."""
    backend = OfflineBackend(library_cases=[], calibrator=Calibrator((), ()), imported_calibrator=Calibrator((), ()))
    scores: list[float] = []
    correct: list[bool] = []
    for item in imported:
        ranked, _votes, raw = backend.score(item.case)
        scores.append(raw)
        correct.append(ranked[0].category.value == item.label.category)
    calibrator = fit_isotonic(scores, correct)
    (out_dir / IMPORTED_CALIBRATION_PATH.name).write_text(calibrator.to_json() + "\n")
    accuracy = sum(correct) / len(correct) if correct else 0.0
    progress(f"imported: {len(imported)} restated cases; accuracy {accuracy:.3f}; calibration at "
             f"{out_dir / IMPORTED_CALIBRATION_PATH.name}")
    return {"imported_cases": float(len(imported)), "imported_accuracy": round(accuracy, 4)}


def build_imported_calibration(*, seeds: tuple[int, ...] = LIBRARY_SEEDS, accounts: int = 30, months: int = 2,
                               start: str = "2026-08", out_dir: Path = LIBRARY_DIR,
                               progress: Callable[[str], None] = print) -> dict[str, float]:
    """Refit only the unknown-rule map (the library and the known-rule map are left as they are)."""
    _, imported = cases_of_seeds(seeds, accounts=accounts, months=months, start=start, progress=progress)
    return fit_imported(imported, out_dir=out_dir, progress=progress)


if __name__ == "__main__":
    print(build_imported_calibration())
