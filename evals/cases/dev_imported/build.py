"""Build `evals/cases/dev_imported/`: generated cases restated as exceptions imported from other tools.

    .venv/bin/python -m evals.cases.dev_imported.build            # seeds 7201-7203, as committed
    .venv/bin/python -m evals.cases.dev_imported.build --check    # rebuild in a temporary folder, compare

A DEVELOPMENT set (see README.md): the offline backend's inference for rule names it does not
know is tuned on it. It is neither the curated test set nor the generated eval set.

Each case is made exactly as `evals/build_generated.py` makes the generated set (generate a
scenario, ingest, reconcile, collect the bundle with its ground-truth labels) from seeds kept
for this set alone, then its exception is rewritten the way another reconciliation tool would
have raised it (`as_imported`):

- rule and kind become the other tool's names (`FOREIGN_NAMES`, written from what such tools
  plausibly call things; about one case in six gets a name that says nothing at all);
- `details` (what our rules compute: boundary quantities, statuses, listing-fee figures...) is
  dropped: another tool does not compute our rules' details; only its own reference remains;
- the description is the other tool's terse line (amounts and quantities, no diagnosis);
- record references keep only ids an outside tool knows (billing events, invoices, payments,
  the partner's feed rows, metering records, credit notes, refunds, agreements): our usage row
  ids and contract keys are internal;
- the account's history is renamed the same way (it was raised by the same tool).

The amounts, quantities, currency, account, product, dimension, period and channel stay: an
importer maps those into our exception fields. The records of the bundle are not touched.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import Counter
from pathlib import Path
from typing import get_args

from billing.bundles import CaseBundle
from billing.bundles.labels import CategoryLabel
from billing.scenarios import DEFAULT_FAULT_RATE
from billing.scenarios.scenario import GENERATOR_VERSION
from evals.build_generated import SEEDS as GENERATED_SEEDS
from evals.build_generated import CASES_FILE, matches_fresh_build, pool_cases, select, write_cases
from evals.case_set import case_set_hash
from evals.manifest import MANIFEST_NAME, CaseSetManifest, write_manifest

#: Seeds of this set only: never the library's (9001-9008) nor the generated eval set's (7101-7106).
SEEDS: tuple[int, ...] = (7201, 7202, 7203)
ACCOUNTS = 24
MONTHS = 2
START = "2026-07"
CAP_PER_CATEGORY = 12
DEFAULT_OUT = Path(__file__).resolve().parent
BUILT_BY = "evals/cases/dev_imported/build.py"

#: Our (rule, kind) -> the names other tools give the same difference; one is picked per case by
#: a hash of its key. Named after what AR, settlement, metering and revenue-assurance tools call
#: things, not after our taxonomy's categories (a kind word may hint, as real ones do).
FOREIGN_NAMES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("usage_vs_partner_usage", "usage_shortfall"): (
        ("usage-recon", "QTY_VARIANCE"), ("aws-usage-audit", "PARTNER_QTY_LOW"), ("mkt-recon", "USAGE_MISMATCH")),
    ("usage_vs_partner_usage", "usage_excess"): (
        ("usage-recon", "QTY_VARIANCE"), ("aws-usage-audit", "PARTNER_QTY_HIGH"), ("mkt-recon", "USAGE_MISMATCH")),
    ("metering_gaps", "metering_missing_hours"): (
        ("meter-watch", "HOURS_WITHOUT_RECEIPT"), ("usage-recon", "MISSING_HOURS"), ("usage-pipeline", "GAP")),
    ("metering_not_accepted", "metering_customer_not_subscribed"): (
        ("meter-watch", "SUBMIT_ERRORS"), ("usage-pipeline", "NOT_SUBSCRIBED"), ("meter-watch", "METER_REJECTED")),
    ("metering_not_accepted", "metering_duplicate_record"): (
        ("meter-watch", "SUBMIT_ERRORS"), ("usage-pipeline", "DUP_SUBMISSION"), ("meter-watch", "METER_REJECTED")),
    ("metering_not_accepted", "metering_unprocessed"): (
        ("meter-watch", "SUBMIT_ERRORS"), ("usage-pipeline", "RETRY_PENDING"), ("meter-watch", "METER_REJECTED")),
    ("billed_rate_vs_contract", "rate_mismatch"): (
        ("pricing-audit", "PRICE_VARIANCE"), ("rev-guard", "RATE_NOT_AS_AGREED")),
    ("usage_without_agreement", "usage_without_active_agreement"): (
        ("entitlement-sync", "NO_ACTIVE_SUBSCRIPTION"), ("usage-recon", "UNENTITLED_USAGE")),
    ("usage_without_invoice", "not_invoiced"): (
        ("billing-audit", "UNBILLED_USAGE"), ("rev-guard", "REVENUE_LEAKAGE")),
    ("channel_overlap", "billed_in_two_channels"): (
        ("rev-guard", "DOUBLE_BILLED"), ("billing-audit", "CROSS_CHANNEL_CHARGE")),
    ("listing_fee_vs_contract", "listing_fee_rate_mismatch"): (
        ("fee-audit", "FEE_RATE_VARIANCE"), ("mkt-settlement", "COMMISSION_MISMATCH")),
    ("disbursed_vs_invoiced", "short_disbursed"): (
        ("ar-recon", "SHORT_PAID"), ("mkt-settlement", "PAYOUT_BELOW_NET"), ("settlement-recon", "OPEN_BALANCE")),
    ("disbursed_vs_invoiced", "undisbursed"): (
        ("ar-recon", "NOT_SETTLED"), ("mkt-settlement", "NO_PAYOUT"), ("settlement-recon", "OPEN_BALANCE")),
    ("forgiven_charges", "charge_forgiven"): (
        ("ar-recon", "CHARGE_REVERSED"), ("mkt-settlement", "WRITE_BACK")),
    ("disbursement_integrity", "bank_receipt_missing"): (
        ("treasury-recon", "PAYOUT_MISMATCH"), ("bank-match", "RECEIPT_NOT_FOUND")),
    ("disbursement_integrity", "disbursement_failed"): (
        ("treasury-recon", "PAYOUT_MISMATCH"), ("bank-match", "PAYOUT_RETURNED")),
    ("disbursement_integrity", "disbursement_sum_mismatch"): (
        ("treasury-recon", "PAYOUT_MISMATCH"), ("bank-match", "AMOUNT_DIFF")),
    ("refunds_vs_approvals", "approved_refund_missing"): (
        ("refund-audit", "REFUND_NOT_ISSUED"), ("ar-recon", "REFUND_VARIANCE")),
    ("refunds_vs_approvals", "refund_without_approval"): (
        ("refund-audit", "UNAPPROVED_REFUND"), ("ar-recon", "REFUND_VARIANCE")),
    ("credits_vs_credit_notes", "credit_mismatch"): (
        ("ar-recon", "CREDIT_VARIANCE"), ("billing-audit", "CREDIT_OVER_INVOICE")),
    ("fx_conversion", "fx_difference"): (
        ("treasury-recon", "FX_LOSS"), ("gl-recon", "CONVERSION_VARIANCE")),
    ("tax_treatment", "tax_amount_mismatch"): (
        ("tax-engine", "TAX_VARIANCE"), ("gl-recon", "TAX_ROW_MISMATCH")),
    ("tax_treatment", "tax_party_mismatch"): (
        ("tax-engine", "WRONG_LIABLE_PARTY"), ("gl-recon", "TAX_ROW_MISMATCH")),
    ("reseller_wholesale", "wholesale_price_mismatch"): (
        ("channel-recon", "PARTNER_COST_VARIANCE"), ("rev-guard", "RESALE_PRICE_MISMATCH")),
    ("direct_payments", "short_paid"): (
        ("ar-recon", "SHORT_PAID"), ("cash-app", "PARTIAL_PAYMENT")),
    ("direct_payments", "unapplied_cash"): (
        ("cash-app", "UNMATCHED_RECEIPT"), ("bank-match", "UNIDENTIFIED_DEPOSIT")),
}
#: Names that say nothing about the difference: the inference has only the evidence to go on.
OPAQUE_NAMES: tuple[tuple[str, str], ...] = (("legacy-recon", "EXCEPTION"), ("ops-import", "VARIANCE"))
#: Record references an outside tool can know (partner and customer-facing ids).
OUTSIDE_REFS = frozenset({"billing_events", "invoices", "payments", "partner_usage", "metering_results",
                          "credit_notes", "refund_requests", "agreements"})


def _pick(key: str, options: tuple[tuple[str, str], ...]) -> tuple[str, str]:
    digest = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    if digest % 6 == 0:  # one case in six: an opaque name
        return OPAQUE_NAMES[(digest // 6) % len(OPAQUE_NAMES)]
    return options[(digest // 6) % len(options)]


def foreign_name(natural_key: str, rule: str, kind: str) -> tuple[str, str]:
    """The other tool's (rule, kind) for one of our exceptions."""
    return _pick(natural_key, FOREIGN_NAMES.get((rule, kind), OPAQUE_NAMES))


def foreign_key(natural_key: str, rule: str, kind: str) -> str:
    """The other tool's key for the exception: its names, and a reference derived from ours."""
    tool, name = foreign_name(natural_key, rule, kind)
    return f"{tool}:{name}:{hashlib.sha256(natural_key.encode()).hexdigest()[:16]}"


def _terse(bundle: CaseBundle, tool: str, name: str) -> str:
    """The other tool's one-line description: where, and the figures it compared — no diagnosis."""
    e = bundle.exception
    where = " ".join(p for p in (e.account_key, e.product_code, e.dimension_key, e.period) if p)
    parts = [f"{tool} {name}: {where}"]
    cur = e.currency or ""
    if e.expected_amount is not None or e.observed_amount is not None:
        parts.append(f"expected {e.expected_amount} {cur}, actual {e.observed_amount} {cur}".replace("None ", "n/a "))
    if e.expected_quantity is not None or e.observed_quantity is not None:
        parts.append(f"qty expected {e.expected_quantity}, actual {e.observed_quantity}")
    return "; ".join(parts)


def as_imported(bundle: CaseBundle) -> CaseBundle:
    """The bundle with its exception (and history) restated as another tool would raise them."""
    e = bundle.exception
    tool, name = foreign_name(e.natural_key, e.rule, e.kind)
    key = foreign_key(e.natural_key, e.rule, e.kind)
    exception = e.model_copy(update={
        "natural_key": key, "rule": tool, "kind": name,
        "details": {"source_system": tool, "source_reference": key.rsplit(":", 1)[1]},
        "description": _terse(bundle, tool, name),
        "record_refs": {k: v for k, v in e.record_refs.items() if k in OUTSIDE_REFS},
    })
    history = []
    for h in bundle.history:
        h_tool, h_name = foreign_name(h.natural_key, h.rule, h.kind)
        history.append(h.model_copy(update={
            "natural_key": foreign_key(h.natural_key, h.rule, h.kind), "rule": h_tool, "kind": h_name,
            "description": f"{h_tool} {h_name}: {h.period}"}))
    return bundle.model_copy(update={"exception": exception, "history": history})


def build(out: Path, *, seeds: tuple[int, ...] = SEEDS, cap: int = CAP_PER_CATEGORY) -> CaseSetManifest:
    """Build the set into `out` (its case file and manifest replaced); return the manifest."""
    from agent.llm.offline.library import LIBRARY_SEEDS

    clash = sorted(set(seeds) & (set(LIBRARY_SEEDS) | set(GENERATED_SEEDS)))
    if clash:
        raise SystemExit(f"seeds {clash} belong to the offline library or the generated eval set")
    pooled, duplicates = pool_cases(seeds, accounts=ACCOUNTS, months=MONTHS, start=START,
                                    fault_rate=DEFAULT_FAULT_RATE, restate=as_imported)
    kept = select(pooled, cap)
    counts = Counter(b.expected.category for b in kept if b.expected is not None)
    missing = [c for c in get_args(CategoryLabel) if c not in counts]
    if missing:
        print(f"note: no case of {missing} in these seeds", flush=True)
    write_cases(out / CASES_FILE, kept)
    manifest = CaseSetManifest(
        generator_version=GENERATOR_VERSION, seeds=list(seeds), accounts=ACCOUNTS, months=MONTHS, start=START,
        fault_rate=DEFAULT_FAULT_RATE, per_category_cap=cap, cases=len(kept), case_set_hash=case_set_hash(kept),
        by_category=dict(sorted(counts.items())), files=[CASES_FILE], duplicate_keys_skipped=duplicates,
        built_by=BUILT_BY,
    )
    write_manifest(out / MANIFEST_NAME, manifest)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true",
                        help="rebuild into a temporary folder and compare with --out (exit 1 if they differ)")
    args = parser.parse_args()
    if not args.check:
        manifest = build(args.out)
        print(f"wrote {manifest.cases} cases to {args.out} ({dict(manifest.by_category)})")
        return
    same = matches_fresh_build(args.out, build)
    print("identical" if same else f"{args.out} differs from a fresh build")
    raise SystemExit(0 if same else 1)


if __name__ == "__main__":
    sys.exit(main())
