"""Rebuild the generated eval set, `evals/cases/generated/`, deterministically.

    .venv/bin/python evals/build_generated.py            # seeds 7101-7106, as committed
    .venv/bin/python evals/build_generated.py --check    # rebuild in a temporary folder, compare

For each seed: generate a scenario (`billing.scenarios.generate_scenario`), ingest it, reconcile
it, and collect a case bundle per exception with the ground truth's labels attached — the same
path as ``triage export-cases --truth`` (`billing.bundles.collect_bundle` with
`billing.bundles.truth_labels.labels_from_truth`). Exceptions no fault explains carry no label
and are left out, and so is a case whose natural key an earlier seed already gave another case. At most `--cap` cases per category are kept (chosen by a hash of the case id,
so the choice is stable), so one frequent category cannot drown the rest; every category of the
taxonomy must be present or the build fails.

The seeds must never be the offline backend's library seeds (`LIBRARY_SEEDS`, 9001-9008): the
build refuses them, and the eval refuses a set whose manifest names one.

Output: ``cases.jsonl.gz`` (one bundle per line, sorted by case id; gzip without a timestamp,
so the same seeds give the same bytes) and ``manifest.json`` (seeds, generator settings,
counts per category, the case-set hash).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import get_args

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billing.bundles import CaseBundle, bundle_json, collect_bundle
from billing.bundles.labels import CategoryLabel
from billing.bundles.truth_labels import labels_from_truth
from billing.db import transaction
from billing.ingest.folder import ingest_folder
from billing.migrate import create_engine_and_upgrade
from billing.reconcile.run import reconcile
from billing.scenarios import DEFAULT_FAULT_RATE, generate_scenario
from billing.scenarios.scenario import GENERATOR_VERSION
from evals.case_set import case_set_hash
from evals.manifest import MANIFEST_NAME, CaseSetManifest, write_manifest

#: The seeds of the committed set. Disjoint from LIBRARY_SEEDS (9001-9008) by construction.
SEEDS: tuple[int, ...] = (7101, 7102, 7103, 7104, 7105, 7106)
ACCOUNTS = 24
MONTHS = 2
START = "2026-07"
CAP_PER_CATEGORY = 16
CASES_FILE = "cases.jsonl.gz"
DEFAULT_OUT = Path(__file__).resolve().parent / "cases" / "generated"


def as_of_reconciliation(bundle: CaseBundle, as_of: date) -> CaseBundle:
    """The exception's clock fields set to 03:00 UTC of the scenario's run date, as if the nightly
    reconciliation had raised it then — instead of the moment this script ran, so that a rebuild
    gives the same bytes."""
    stamp = datetime.combine(as_of, time(3), tzinfo=UTC)
    exception = bundle.exception.model_copy(update={"first_seen_at": stamp, "last_seen_at": stamp, "updated_at": stamp})
    return bundle.model_copy(update={"exception": exception})


def scenario_cases(seed: int, work: Path, *, accounts: int, months: int, start: str,
                   fault_rate: float) -> list[CaseBundle]:
    """The labelled case bundles of one generated, ingested and reconciled scenario."""
    folder = work / f"seed-{seed}"
    summary = generate_scenario(seed=seed, accounts=accounts, months=months, start=start, out=folder / "scenario",
                                fault_rate=fault_rate)
    engine = create_engine_and_upgrade(f"sqlite:///{folder / 'scenario.db'}")
    try:
        ingest_folder(engine, folder / "scenario")
        reconcile(engine, as_of=summary.as_of)
        labels = labels_from_truth(engine, folder / "scenario" / "truth.jsonl")
        with transaction(engine) as session:
            return [as_of_reconciliation(collect_bundle(session, exception_id, expected=labels[exception_id]),
                                         summary.as_of) for exception_id in sorted(labels)]
    finally:
        engine.dispose()


def select(bundles: list[CaseBundle], cap: int) -> list[CaseBundle]:
    """At most `cap` cases per expected category, picked by a hash of the case id; sorted by case id."""
    by_category: dict[str, list[CaseBundle]] = defaultdict(list)
    for bundle in bundles:
        assert bundle.expected is not None
        by_category[bundle.expected.category].append(bundle)
    kept = [b for group in by_category.values()
            for b in sorted(group, key=lambda b: hashlib.sha256(b.case_id.encode()).hexdigest())[:cap]]
    return sorted(kept, key=lambda b: b.case_id)


def gzip_jsonl(bundles: list[CaseBundle]) -> bytes:
    """One bundle per line, gzip-compressed without a timestamp or file name (reproducible bytes)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        for bundle in bundles:
            gz.write(bundle_json(bundle, indent=None).encode("utf-8") + b"\n")
    return buffer.getvalue()


def pool_cases(seeds: tuple[int, ...], *, accounts: int, months: int, start: str, fault_rate: float,
               restate: Callable[[CaseBundle], CaseBundle] | None = None) -> tuple[list[CaseBundle], int]:
    """The labelled cases of every seed (each `restate`d, if given), first of each case id kept;
    returns them and how many later duplicates were skipped."""
    pooled: dict[str, CaseBundle] = {}
    duplicates = 0
    with tempfile.TemporaryDirectory(prefix="eval-cases-") as tmp:
        for seed in seeds:
            for bundle in scenario_cases(seed, Path(tmp), accounts=accounts, months=months, start=start,
                                         fault_rate=fault_rate):
                case = restate(bundle) if restate else bundle
                # Two seeds can give different cases the same natural key (e.g. the first unapplied
                # payment of a month); a case id names one case in a set, so the first one stays.
                if case.case_id in pooled:
                    duplicates += 1
                    continue
                pooled[case.case_id] = case
            print(f"seed {seed}: {len(pooled)} labelled cases so far", flush=True)
    return list(pooled.values()), duplicates


def write_cases(path: Path, bundles: list[CaseBundle]) -> None:
    """The gzipped JSONL case file, replaced whole (never left half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(gzip_jsonl(bundles))
    partial.replace(path)


def matches_fresh_build(out: Path, rebuild: Callable[[Path], object]) -> bool:
    """Whether `out`'s case file and manifest are byte for byte what `rebuild` writes into a new folder."""
    with tempfile.TemporaryDirectory(prefix="eval-cases-check-") as tmp:
        rebuild(Path(tmp))
        return all((out / name).is_file() and (Path(tmp) / name).read_bytes() == (out / name).read_bytes()
                   for name in (CASES_FILE, MANIFEST_NAME))


def build(out: Path, *, seeds: tuple[int, ...] = SEEDS, accounts: int = ACCOUNTS, months: int = MONTHS,
          start: str = START, cap: int = CAP_PER_CATEGORY, fault_rate: float = DEFAULT_FAULT_RATE) -> CaseSetManifest:
    """Build the set into `out` (its case file and manifest replaced); return the manifest."""
    from agent.llm.offline.library import LIBRARY_SEEDS

    reserved = sorted(set(seeds) & set(LIBRARY_SEEDS))
    if reserved:
        raise SystemExit(f"seeds {reserved} are reserved for the offline backend's library (LIBRARY_SEEDS)")
    pooled, duplicates = pool_cases(seeds, accounts=accounts, months=months, start=start, fault_rate=fault_rate)
    kept = select(pooled, cap)
    counts = Counter(b.expected.category for b in kept if b.expected is not None)
    missing = [c for c in get_args(CategoryLabel) if c not in counts]
    if missing:
        raise SystemExit(f"the set misses categories {missing}: add seeds or accounts")
    write_cases(out / CASES_FILE, kept)
    manifest = CaseSetManifest(
        generator_version=GENERATOR_VERSION, seeds=list(seeds), accounts=accounts, months=months, start=start,
        fault_rate=fault_rate, per_category_cap=cap, cases=len(kept), case_set_hash=case_set_hash(kept),
        by_category=dict(sorted(counts.items())), files=[CASES_FILE], duplicate_keys_skipped=duplicates,
    )
    write_manifest(out / MANIFEST_NAME, manifest)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--accounts", type=int, default=ACCOUNTS)
    parser.add_argument("--months", type=int, default=MONTHS)
    parser.add_argument("--cap", type=int, default=CAP_PER_CATEGORY, help="most cases kept per category")
    parser.add_argument("--check", action="store_true",
                        help="rebuild into a temporary folder and compare with --out (exit 1 if they differ)")
    args = parser.parse_args()
    options = {"seeds": tuple(args.seeds), "accounts": args.accounts, "months": args.months, "cap": args.cap}
    if not args.check:
        manifest = build(args.out, **options)
        print(f"wrote {manifest.cases} cases to {args.out} ({dict(manifest.by_category)})")
        return
    same = matches_fresh_build(args.out, lambda tmp: build(tmp, **options))
    print("identical" if same else f"{args.out} differs from a fresh build")
    raise SystemExit(0 if same else 1)


if __name__ == "__main__":
    main()
