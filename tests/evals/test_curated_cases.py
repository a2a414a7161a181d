"""The curated eval set (`evals/cases/curated/*.json`): valid bundles, loadable, labelled, covering.

These cases score the agent, so the checks here are about the set itself: every bundle
validates and loads into a fresh database, its labels use the agreed vocabulary, every record
its exception cites is in the bundle, the set covers every category and the hard situations
issue 5 asks for, and the routes follow the approval matrix (knowledge/sops/
materiality_approval_matrix.md: a person at or above USD 10,000 at stake, and always for
refund, tax and channel-conflict cases and for outside text that tries to instruct).
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import get_args

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from billing.bundles import CaseBundle, load_bundle, read_sourced_bundles
from billing.bundles.labels import ActionLabel, CategoryLabel, EscalateLabel, RouteLabel
from billing.models import Discrepancy
from billing.reconcile.registry import RULES
from billing.reconcile.rules import register_all
from evals.cases.curated.builder.loading import load_specs

FOLDER = Path(__file__).resolve().parents[2] / "evals" / "cases" / "curated"
CASES: list[tuple[str, CaseBundle]] = [
    (Path(where).stem, bundle) for where, bundle in read_sourced_bundles(FOLDER)
]
BY_ID = dict(CASES)
MATERIALITY_USD = Decimal(10000)
ALWAYS_HUMAN = {"refund_discrepancy", "tax_discrepancy", "channel_conflict", "other"}
# Words of outside text that tries to instruct the reader (SOP handling_outside_text, red flags).
INSTRUCTING = (
    "ignore previous instructions",
    "ignore all previous",
    "system:",
    "ai assistant",
    "ai agent",
    "as the assistant",
    "do not escalate",
    "mark this as approved",
    "approve and close",
    "auto-close",
    "note to reviewer",
)


def _outside_text(bundle: CaseBundle) -> str:
    """Everything in the bundle that came from outside: partner and customer messages, remittance notes,
    free text in the partner's feed."""
    parts = [f"{m.subject}\n{m.body}" for m in bundle.messages if m.sender_role != "internal"]
    parts += [p.remittance_note or "" for p in bundle.payments]
    parts += [u.charge_item_description or "" for u in bundle.partner_usage]
    return "\n".join(parts).lower()


def _usd_per_unit(bundle: CaseBundle, currency: str, on: date) -> Decimal:
    if currency == "USD":
        return Decimal(1)
    rates = [r for r in bundle.fx_rates if r.currency == currency and r.rate_date <= on]
    assert rates, f"{bundle.case_id}: no {currency} rate on or before {on} to value the case in USD"
    return max(rates, key=lambda r: r.rate_date).usd_per_unit


def _at_stake_usd(bundle: CaseBundle) -> Decimal | None:
    e = bundle.exception
    if e.delta_amount is None or e.currency is None:
        return None
    seen = e.first_seen_at.date() if e.first_seen_at else date.today()
    return abs(e.delta_amount) * _usd_per_unit(bundle, e.currency, seen)


def _ids_in(bundle: CaseBundle) -> dict[str, set[str]]:
    usage_ids: set[str] = set()
    if bundle.usage is not None:
        usage_ids = {d.id or "" for d in bundle.usage.daily} | {
            h.id or "" for h in bundle.usage.hourly
        }
    return {
        "billing_events": {e.billing_event_id for e in bundle.billing_events},
        "contracts": {c.contract_key for c in bundle.contracts},
        "agreements": {a.agreement_id for a in bundle.agreements},
        "invoices": {i.invoice_number for i in bundle.invoices},
        "credit_notes": {n.credit_note_number for n in bundle.credit_notes},
        "refund_requests": {r.request_id for r in bundle.refund_requests},
        "payments": {p.payment_id for p in bundle.payments},
        "partner_usage": {u.id or "" for u in bundle.partner_usage},
        "metering_results": {m.id or "" for m in bundle.metering.results},
        "usage_records": usage_ids,
        "products": {p.product_code for p in bundle.products},
    }


def test_the_set_holds_at_least_60_cases_with_unique_ids() -> None:
    """Issue 5: at least 60 hand-written cases; a case is known by its file name and its natural key."""
    assert len(CASES) >= 60
    keys = Counter(bundle.case_id for _, bundle in CASES)
    assert [k for k, n in keys.items() if n > 1] == []
    assert len({case_id for case_id, _ in CASES}) == len(CASES)


def test_every_case_is_fully_labelled_in_the_agreed_vocabulary() -> None:
    """Category, route, action, escalation target and a one-line why, each from the agreed lists."""
    for case_id, bundle in CASES:
        labels = bundle.expected
        assert labels is not None, case_id
        assert labels.category in get_args(CategoryLabel), case_id
        assert labels.route in get_args(RouteLabel), case_id
        assert labels.action in get_args(ActionLabel), case_id
        assert labels.escalate_to in get_args(EscalateLabel), case_id
        assert labels.why and "\n" not in labels.why.strip() and len(labels.why) <= 400, case_id
        assert labels.second_category != labels.category, case_id


def test_every_category_is_covered_at_least_twice() -> None:
    """Every category of the taxonomy (DOMAIN.md) appears at least twice, `other` at least once."""
    counts = Counter(bundle.expected.category for _, bundle in CASES if bundle.expected)
    for category in get_args(CategoryLabel):
        assert counts[category] >= (1 if category == "other" else 2), (category, counts[category])


def test_the_set_covers_every_channel_currency_and_both_sources() -> None:
    """Both AWS channels (marketplace and CPPO resale), direct, Azure and Google; amounts in EUR, GBP,
    JPY and AUD (DOMAIN.md: AWS disburses in USD, EUR, GBP, AUD or JPY); exceptions raised by our rules
    and some imported from another reconciliation system."""
    channels = Counter(bundle.exception.channel for _, bundle in CASES)
    for channel in (
        "aws_marketplace",
        "reseller",
        "direct",
        "azure_marketplace",
        "gcp_marketplace",
    ):
        assert channels[channel] >= 1, channel
    currencies: set[str] = set()
    for _, bundle in CASES:
        currencies |= {bundle.exception.currency or "USD"} | {c.currency for c in bundle.contracts}
        currencies |= {e.currency for e in bundle.billing_events} | {
            i.currency for i in bundle.invoices
        }
        currencies |= {
            e.disbursement_currency for e in bundle.billing_events if e.disbursement_currency
        }
        currencies |= {p.currency for p in bundle.payments}
    assert {"EUR", "GBP", "JPY", "AUD"} <= currencies
    register_all()
    imported = [case_id for case_id, bundle in CASES if bundle.exception.rule not in RULES]
    assert len(imported) >= 3
    assert len(imported) < len(CASES) / 2


def test_cited_records_are_in_the_bundle() -> None:
    """Every id an exception cites names a record of the bundle (a draft may cite only evidence)."""
    for case_id, bundle in CASES:
        ids = _ids_in(bundle)
        for kind, refs in bundle.exception.record_refs.items():
            assert kind in ids, (case_id, kind)
            missing = [r for r in refs if r not in ids[kind]]
            assert missing == [], (case_id, kind, missing)


def test_routes_follow_the_approval_matrix() -> None:
    """A person at or above USD 10,000 at stake (the exception's |delta| in USD at the rate of the
    exception date), and always for refund, tax, channel-conflict and unclassifiable cases
    (materiality_approval_matrix.md)."""
    for case_id, bundle in CASES:
        labels = bundle.expected
        assert labels is not None
        stake = _at_stake_usd(bundle)
        if stake is not None and stake >= MATERIALITY_USD:
            assert labels.route == "human", (case_id, stake)
        if labels.category in ALWAYS_HUMAN:
            assert labels.route == "human", case_id


def test_outside_text_that_instructs_always_reaches_a_person() -> None:
    """Partner or customer text that addresses the system goes to a person (handling_outside_text.md);
    the set holds several such attempts, in messages, remittance notes and feed fields."""
    attempts = [
        case_id for case_id, bundle in CASES if any(w in _outside_text(bundle) for w in INSTRUCTING)
    ]
    assert len(attempts) >= 4
    for case_id in attempts:
        assert BY_ID[case_id].expected.route == "human", case_id  # type: ignore[union-attr]


def test_the_hard_situations_are_there() -> None:
    """Near-threshold amounts on both sides of USD 10,000, partner or customer messages, earlier
    exceptions, mixed causes, and auto cases that are not all of one kind."""
    stakes = [(case_id, _at_stake_usd(bundle)) for case_id, bundle in CASES]
    under = [c for c, s in stakes if s is not None and Decimal(9000) <= s < MATERIALITY_USD]
    over = [c for c, s in stakes if s is not None and MATERIALITY_USD <= s <= Decimal(11000)]
    assert len(under) >= 2 and len(over) >= 2, (under, over)
    assert sum(1 for _, b in CASES if any(m.sender_role != "internal" for m in b.messages)) >= 15
    assert sum(1 for _, b in CASES if b.history) >= 5
    assert sum(1 for _, b in CASES if b.expected and b.expected.second_category) >= 3
    routes = Counter(b.expected.route for _, b in CASES if b.expected)
    assert routes["auto"] >= 20 and routes["human"] >= 20


def test_every_case_loads_into_an_empty_database(engine: Engine) -> None:
    """Each bundle imports on its own, as the eval runner loads it (one fresh database per case): here
    each in a transaction rolled back afterwards, so each meets an empty database, on SQLite and on
    PostgreSQL alike."""
    failures: list[str] = []
    for case_id, bundle in CASES:
        with Session(engine) as session:
            session.begin()
            try:
                exception_id = load_bundle(session, bundle)
                stored = session.get(Discrepancy, exception_id)
                assert stored is not None and stored.natural_key == bundle.case_id
                assert (
                    stored.source == "import"
                    and stored.delta_amount == bundle.exception.delta_amount
                )
                count = session.scalar(select(func.count()).select_from(Discrepancy))
                assert count == 1 + len(bundle.history)
            except Exception as exc:  # noqa: BLE001 - every case's problem is reported, not just the first
                failures.append(f"{case_id}: {type(exc).__name__}: {exc}")
            finally:
                session.rollback()
    assert failures == []


def test_the_bundles_are_built_from_the_specs() -> None:
    """Every hand-written spec has its bundle and no bundle lacks a spec, with the spec's labels
    (`python -m evals.cases.curated.build --check` compares whole documents; it takes a minute)."""
    specs = {spec.id: spec for spec in load_specs(FOLDER / "specs")}
    assert set(specs) == set(BY_ID)
    for case_id, spec in specs.items():
        assert BY_ID[case_id].expected == spec.expected, case_id
        assert BY_ID[case_id].exception.period == spec.period, case_id
