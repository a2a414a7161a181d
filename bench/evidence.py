"""Evidence gathering and case bundles: how fast, how big, and whether bundles round-trip.

    .venv/bin/python bench/evidence.py                        # the demo month (seed 7, 40 accounts)
    .venv/bin/python bench/evidence.py --accounts 200 --repeat 3
    .venv/bin/python bench/evidence.py --covering-indexes     # what two suggested indexes would change

Generates a scenario (`billing.scenarios`), ingests it, reconciles it (as of the scenario's
run date) into a SQLite file, then, over every exception raised:

- `gather_evidence` per case with a batch-shared `EvidenceCache` (what a batch runner does) and
  without one; rates by wall clock and by this process's CPU time (the machine may be shared:
  CPU time is what the code costs), p50/p95 latency, SQL statements per case, evidence size;
- `collect_bundle` (export) and `load_bundle` (import into a fresh database), and how many
  bundles export again identical after the import.

The last line printed is one JSON object. Target (issue 4, item 1): ≥ 500 cases/s on SQLite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, event, select

from billing.bundles import collect_bundle, load_bundle
from billing.db import make_engine, transaction
from billing.migrate import upgrade_engine
from billing.models import Discrepancy
from tools import EvidenceCache, ToolContext, gather_evidence, read_only_session

# Indexes that make the two month-long aggregates of a usage case index-only (see --covering-indexes).
COVERING_INDEXES = (
    ("CREATE INDEX IF NOT EXISTS bench_usage_cover ON usage_records "
     "(account_id, product_code, dimension_key, usage_hour, quantity)"),
    ("CREATE INDEX IF NOT EXISTS bench_metering_cover ON metering_results "
     "(product_code, customer_ref, dimension, timestamp, status, quantity)"),
)


def build(work: Path, *, seed: int, accounts: int, months: int, start: str) -> tuple[Engine, list[int], date]:
    """A reconciled scenario in a SQLite file; returns the engine and the open exceptions' ids."""
    from billing.ingest import ingest_folder
    from billing.reconcile.run import reconcile
    from billing.scenarios import generate_scenario

    scenario = generate_scenario(seed=seed, accounts=accounts, months=months, start=start, out=work / "scenario")
    engine = make_engine(f"sqlite:///{work / 'bench.db'}")
    upgrade_engine(engine)
    ingest_folder(engine, work / "scenario")
    reconcile(engine, as_of=scenario.as_of)
    with transaction(engine) as session:
        ids = list(session.scalars(select(Discrepancy.id).where(Discrepancy.status == "open").order_by(Discrepancy.id)))
    return engine, ids, scenario.as_of


class StatementCounter:
    """Counts the SQL statements an engine runs."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any) -> None:
        self.count += 1


def time_gathering(engine: Engine, ids: list[int], *, repeat: int, shared: bool) -> dict[str, Any]:
    """Gather every case `repeat` times (a fresh cache per round); rates, latencies and statements."""
    counter = StatementCounter(engine)
    latencies: list[float] = []
    sizes: list[int] = []
    with read_only_session(engine) as session:
        for i in ids[:5]:  # warm-up: prepared statements, imports
            gather_evidence(ToolContext.for_exception(session, i))
        counter.count = 0
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(repeat):
            cache = EvidenceCache() if shared else None
            for i in ids:
                t0 = time.perf_counter()
                evidence = gather_evidence(ToolContext.for_exception(session, i, shared=cache))
                latencies.append(time.perf_counter() - t0)
                if len(sizes) < len(ids):
                    sizes.append(len(json.dumps(evidence)))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    event.remove(engine, "before_cursor_execute", counter._seen)
    n = len(latencies)
    latencies.sort()
    return {"cases_per_s": round(n / wall, 1), "cases_per_cpu_s": round(n / cpu, 1),
            "p50_ms": round(latencies[n // 2] * 1000, 2), "p95_ms": round(latencies[int(n * 0.95)] * 1000, 2),
            "statements_per_case": round(counter.count / n, 1),
            "evidence_kb_p50": round(statistics.median(sizes) / 1024, 1), "evidence_kb_max": round(max(sizes) / 1024, 1)}


def time_bundles(engine: Engine, ids: list[int], work: Path) -> dict[str, Any]:
    """Export every case, import all into a fresh database, export again and compare."""
    cpu0 = time.process_time()
    with transaction(engine) as session:
        bundles = [collect_bundle(session, i) for i in ids]
    export_cpu = time.process_time() - cpu0
    fresh = make_engine(f"sqlite:///{work / 'imported.db'}")
    upgrade_engine(fresh)
    cpu0 = time.process_time()
    with transaction(fresh) as session:
        new_ids = [load_bundle(session, b) for b in bundles]
    import_cpu = time.process_time() - cpu0
    with transaction(fresh) as session:
        identical = sum(collect_bundle(session, n).model_dump(mode="json") == b.model_dump(mode="json")
                        for n, b in zip(new_ids, bundles, strict=True))
    sizes = sorted(len(b.model_dump_json()) for b in bundles)
    return {"bundle_export_per_cpu_s": round(len(ids) / export_cpu, 1),
            "bundle_import_per_cpu_s": round(len(ids) / import_cpu, 1),
            "bundle_kb_p50": round(sizes[len(sizes) // 2] / 1024, 1), "bundle_kb_max": round(sizes[-1] / 1024, 1),
            "round_trip_identical": identical}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--months", type=int, default=1)
    parser.add_argument("--start", default="2026-10")
    parser.add_argument("--repeat", type=int, default=5, help="Rounds over every case (a fresh cache each).")
    parser.add_argument("--covering-indexes", action="store_true",
                        help="Add two covering indexes to the bench database first (not part of the schema).")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-evidence-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    engine, ids, as_of = build(work, seed=args.seed, accounts=args.accounts, months=args.months, start=args.start)
    if not ids:
        raise SystemExit("the scenario raised no exceptions; try more --accounts")
    if args.covering_indexes:
        with engine.begin() as conn:
            for ddl in COVERING_INDEXES:
                conn.exec_driver_sql(ddl)
    with transaction(engine) as session:
        rules = sorted(set(session.scalars(select(Discrepancy.rule).where(Discrepancy.id.in_(ids)))))
    print(f"{len(ids)} open exceptions of {len(rules)} rules, built in {time.perf_counter() - t0:.1f} s "
          f"(as of {as_of}) in {work}", file=sys.stderr)
    shared = time_gathering(engine, ids, repeat=args.repeat, shared=True)
    alone = time_gathering(engine, ids, repeat=args.repeat, shared=False)
    result = {"cases": len(ids), "rules": len(rules), "covering_indexes": args.covering_indexes, **shared,
              "unshared_cases_per_s": alone["cases_per_s"], "unshared_cases_per_cpu_s": alone["cases_per_cpu_s"],
              "unshared_statements_per_case": alone["statements_per_case"], **time_bundles(engine, ids, work)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
