"""`triage demo`: the main job on the embedded defaults, end to end, in one command.

Generates a realistic month (seeded), ingests every file, reconciles, indexes the SOPs,
triages every exception with the configured backend (offline by default) and prints what a
billing-ops lead wants at month-end: exceptions by category and channel, the amount at stake,
what was proposed automatically and what waits for a person — and, because a generated month
knows its own ground truth, how often the agent was right.
"""

from __future__ import annotations

import shutil
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from billing.settings import get_settings

# Wide enough for the summary table when the output is a file or a CI log (80 columns by default).
console = Console(width=None if Console().is_terminal else 120)


def run_demo(*, seed: int, accounts: int, months: int, start: str, folder: Path, concurrency: int) -> dict[str, object]:
    """Generate → ingest → reconcile → index SOPs → triage; returns the figures it printed."""
    # Heavy imports here, so `triage --help` stays quick.
    from agent.runner import open_triage
    from billing.db import transaction
    from billing.ingest.folder import ingest_folder
    from billing.migrate import create_engine_and_upgrade
    from billing.reconcile.run import reconcile
    from billing.scenarios.scenario import generate_scenario
    from billing.scenarios.truth import match_truth
    from billing.scenarios.truth_model import read_truth

    settings = get_settings()
    # The demo works in a folder of its own and starts clean: it never touches the configured database.
    if folder.exists():
        shutil.rmtree(folder)
    data = folder / "scenario"
    settings = settings.model_copy(update={
        "database_url": f"sqlite:///{folder / 'triage.db'}",
        "checkpoint_url": f"sqlite:///{folder / 'checkpoints.db'}",
    })
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    summary = generate_scenario(seed=seed, accounts=accounts, months=months, start=start, out=data)
    timings["generate_s"] = time.perf_counter() - t0
    engine = create_engine_and_upgrade(settings.database_url)

    t0 = time.perf_counter()
    reports = ingest_folder(engine, data)
    timings["ingest_s"] = time.perf_counter() - t0
    rows = sum(r.rows_loaded for r in reports)

    t0 = time.perf_counter()
    reconcile(engine, as_of=summary.as_of)
    timings["reconcile_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    with open_triage(settings, engine=engine) as triage:
        batch = triage.batch(concurrency=concurrency, progress=True)
        backend_name = triage.deps.backend.name
    timings["triage_s"] = time.perf_counter() - t0

    truth = read_truth(data / "truth.jsonl")
    with transaction(engine) as session:
        matched = match_truth(session, truth, include_closed=True)
        figures = _print_summary(session, matched, rows=rows, backend=backend_name, batch=batch, timings=timings)
    engine.dispose()
    return figures


def _print_summary(session, matched, *, rows, backend, batch, timings):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from billing.models import Discrepancy

    exceptions = list(session.scalars(select(Discrepancy)))
    outcomes = _latest_outcomes(session)
    by_cat: dict[tuple[str, str], list[Discrepancy]] = defaultdict(list)
    for exc in exceptions:
        cat = outcomes.get(exc.id, {}).get("category") or "(not triaged)"
        by_cat[(cat, exc.channel)].append(exc)

    table = Table(title=f"Exceptions by category and channel — triaged by the {backend} backend")
    for col in ("category", "channel", "cases", "auto", "to a person", "at stake"):
        table.add_column(col, justify="right" if col not in ("category", "channel") else "left")
    total_stake: dict[str, Decimal] = defaultdict(Decimal)
    for (cat, channel), items in sorted(by_cat.items()):
        stake: dict[str, Decimal] = defaultdict(Decimal)
        for exc in items:
            if exc.delta_amount is not None and exc.currency:
                stake[exc.currency] += abs(exc.delta_amount)
                total_stake[exc.currency] += abs(exc.delta_amount)
        routes = [outcomes.get(e.id, {}).get("route") for e in items]
        table.add_row(cat, channel, str(len(items)), str(routes.count("auto")), str(routes.count("human")),
                      ", ".join(f"{c} {v:,.2f}" for c, v in sorted(stake.items())))
    console.print(table)

    right = sum(1 for eid, entry in matched.items()
                if outcomes.get(eid, {}).get("category") == entry.labels_for(matched.exceptions[eid].rule)[0])
    must_see = [eid for eid, entry in matched.items() if entry.route == "human"]
    seen = sum(1 for eid in must_see if outcomes.get(eid, {}).get("route") == "human")
    figures: dict[str, object] = {
        "rows_ingested": rows, "exceptions": len(exceptions), "by_route": dict(batch.by_route),
        "at_stake": {c: str(v) for c, v in total_stake.items()},
        "category_accuracy_vs_truth": round(right / len(matched), 3) if matched else None,
        "must_see_reached_a_person": f"{seen}/{len(must_see)}",
        "faults_missed_by_reconciliation": len(matched.misses),
        **{k: round(v, 2) for k, v in timings.items()},
    }
    console.print(
        f"\n[bold]{rows:,}[/] rows ingested · [bold]{len(exceptions)}[/] exceptions · "
        f"at stake {', '.join(f'{c} {v:,.2f}' for c, v in sorted(total_stake.items()))}\n"
        f"routes: {dict(batch.by_route)} · failed: {len(batch.failed)}\n"
        f"against the generated ground truth: category right on {right}/{len(matched)}, "
        f"must-see cases that reached a person {seen}/{len(must_see)}, "
        f"faults reconciliation missed {len(matched.misses)}\n"
        f"timings: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
    )
    if batch.failed:
        for eid, error in batch.failed[:5]:
            console.print(f"[red]failed[/] exception {eid}: {error}")
    return figures


def _latest_outcomes(session) -> dict[int, dict[str, object]]:  # type: ignore[no-untyped-def]
    """The latest triage run per exception: category and route."""
    from sqlalchemy import select

    from billing.models import TriageRun

    latest: dict[int, dict[str, object]] = {}
    for run in session.scalars(select(TriageRun).order_by(TriageRun.id)):
        latest[run.exception_id] = {"category": run.category, "route": run.route}
    return latest


def demo(
    seed: int = typer.Option(7, help="Scenario seed (same seed, same month)."),
    accounts: int = typer.Option(40, help="How many customer accounts."),
    months: int = typer.Option(1, help="How many months."),
    start: str = typer.Option("2026-10", help="First month, YYYY-MM."),
    folder: Path = typer.Option(None, help="Working folder (default: <data_dir>/demo; recreated)."),
    concurrency: int = typer.Option(2, help="Cases triaged at once."),
) -> None:
    """Generate a demo month, ingest, reconcile, triage, and print the month-end summary."""
    run_demo(seed=seed, accounts=accounts, months=months, start=start,
             folder=folder or get_settings().data_dir / "demo", concurrency=concurrency)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
