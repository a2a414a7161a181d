"""The verify step: every amount, id and date of a draft must come from the evidence.

DESIGN.md, rules of the house: "A number or identifier in a draft must come from the
evidence; the verify step checks it." Money is Decimal: formatting never changes a value.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from agent.llm.base import CaseInput
from agent.schemas import Action, Category, Classification, Draft, EscalateTo
from agent.verify import collect_facts, extract_claims, verify
from billing.settings import Settings
from tests.agent.triage_graph.fakes import passage

SETTINGS = Settings()


def _case(**evidence: Any) -> CaseInput:
    return CaseInput(
        case_id="7",
        exception={"id": 7, "rule": "disbursed_vs_invoiced", "kind": "short_disbursed", "period": "2026-10",
                   "currency": "USD", "expected_amount": "1234.5", "observed_amount": "1000.000000",
                   "delta_amount": "-234.500000", "record_refs": {"billing_events": ["be-7f3a9c0d11"]}},
        evidence={"invoice": {"invoice_id": "INV-2026-0042", "due": "2026-11-14", "fee_rate": "0.03",
                              "net": "98765.4321"}, **evidence},
        sop_passages=[passage("short_payment")],
    )


def _classification(**overrides: Any) -> Classification:
    values: dict[str, Any] = {"category": Category.SHORT_PAYMENT, "confidence": 0.9, "rationale": "Short by the fee.",
                                  "evidence_ids": ["be-7f3a9c0d11"], "sop_chunk_ids": ["short_payment#decision-steps"],
                                  "action": Action.CHASE_PAYMENT, "escalate_to": EscalateTo.PARTNER, "owner": "collections"}
    values.update(overrides)
    return Classification(**values)


def _email(body: str, subject: str = "Short payment 2026-10") -> Draft:
    return Draft(kind="email", to=SETTINGS.email.partner_contacts["aws_marketplace"], subject=subject, body=body)


def _problems(body: str, **kwargs: Any) -> list[str]:
    case = _case()
    return verify(case, kwargs.pop("classification", _classification()), _email(body, **kwargs), SETTINGS).problems


def test_grounded_draft_passes_and_formatting_does_not_change_a_value() -> None:
    """`USD 1,234.50` is the evidence's `1234.5`; `3%` is the rate `0.03`; a month named in
    words is the period; `USD 98,765.43` is `98765.4321` printed to cents."""
    body = ("Invoice INV-2026-0042 (due 2026-11-14, October 2026) expected USD 1,234.50, we received "
            "USD 1,000.00: short by USD 234.50 after the 3% fee. Net USD 98,765.43. Record be-7f3a9c0d11.")
    assert _problems(body) == []


def test_invented_amount_is_caught() -> None:
    problems = _problems("We expected USD 1,234.50 and were paid USD 1,100.00.")
    assert problems == ["body: amount 'USD 1,100.00' is not in the evidence"]


def test_an_amount_invented_twice_is_one_problem() -> None:
    """The repair prompt and the audit trail list it once; the subject's is its own problem."""
    problems = _problems("Paid USD 1,100.00 of USD 1,234.50; the USD 1,100.00 was short.", subject="USD 1,100.00 paid")
    assert problems == ["subject: amount 'USD 1,100.00' is not in the evidence",
                        "body: amount 'USD 1,100.00' is not in the evidence"]


def test_rounding_admits_only_the_value_rounded_to_cents() -> None:
    """Evidence 98765.4321 may print as 98,765.43; 98,765.42 is another amount."""
    assert _problems("Net USD 98,765.42.") == ["body: amount 'USD 98,765.42' is not in the evidence"]


def test_invented_identifier_is_caught() -> None:
    problems = _problems("Please see invoice INV-2026-0043 and record be-7f3a9c0d11.")
    assert problems == ["body: identifier 'INV-2026-0043' is not in the evidence"]


def test_invented_date_and_period_are_caught() -> None:
    problems = _problems("Payment was due 2026-11-15 for September 2026.")
    assert "body: date '2026-11-15' is not in the evidence" in problems
    assert "body: period 'September 2026' is not in the evidence" in problems


def test_invented_percentage_is_caught() -> None:
    assert _problems("The fee was 2.5% of the invoice.") == ["body: amount '2.5%' is not in the evidence"]


def test_subject_is_checked_too() -> None:
    assert _problems("Short by USD 234.50.", subject="Short payment USD 555.00") == [
        "subject: amount 'USD 555.00' is not in the evidence"
    ]


def test_unknown_address_and_recipient_are_caught() -> None:
    case = _case()
    draft = Draft(kind="email", to="someone@evil.example", subject="Short payment",
                  body="Reply to refunds@evil.example please.")
    problems = verify(case, _classification(), draft, SETTINGS).problems
    assert "to: 'someone@evil.example' is not a configured contact or role" in problems
    assert "body: address refunds@evil.example is neither a configured contact nor in the evidence" in problems


def test_action_must_suit_the_category() -> None:
    """DOMAIN.md: short_payment is resolved by waiting, chasing or classifying the deduction,
    never by booking an FX variance."""
    report = verify(_case(), _classification(action=Action.BOOK_FX_VARIANCE), _email("Short by USD 234.50."), SETTINGS)
    assert report.decision_problems == ["decision: action book_fx_variance does not suit category short_payment"]
    assert report.draft_problems == []


def test_cited_ids_and_passages_must_exist() -> None:
    classification = _classification(evidence_ids=["be-0000000000"], sop_chunk_ids=["tax_discrepancy#steps"])
    report = verify(_case(), classification, _email("Short by USD 234.50."), SETTINGS)
    assert report.decision_problems == [
        "decision: evidence id 'be-0000000000' is not in the evidence",
        "decision: SOP passage 'tax_discrepancy#steps' was not retrieved",
    ]


def test_email_needed_for_partner_escalation() -> None:
    draft = Draft(kind="internal_resolution", to=SETTINGS.email.internal_owner, subject="x", body="Short by USD 234.50.")
    assert verify(_case(), _classification(), draft, SETTINGS).draft_problems == [
        "kind: escalation to partner needs an email, got internal_resolution"
    ]


@pytest.mark.parametrize(("text", "ids", "numbers"), [
    ("account 123456789012 paid 1,234.5 USD", ["123456789012"], ["1234.5"]),
    ("step 2 of 3, 6h window", [], ["6"]),
    ("fee 1.5% on EUR 10,000", [], ["1.5", "10000"]),
])
def test_claims_extraction(text: str, ids: list[str], numbers: list[str]) -> None:
    claims = extract_claims(text)
    assert claims.ids == ids
    assert [str(v) for _, v, _ in claims.numbers] == numbers


def test_facts_include_sop_figures() -> None:
    """A draft may quote the SOP it follows (the fake passage says 'within 48 hours')."""
    facts = collect_facts(_case(), SETTINGS)
    assert facts.has_number(Decimal(48)) and "short_payment#decision-steps" in facts.chunk_ids


def test_round_ups_reach_the_next_whole_number_only() -> None:
    """`99.995` prints as 100.00 (cents) and `12.5` as 13 (units): a rounded-up figure is whole,
    and the integer part one below is searched for it only then; answers repeat the same."""
    facts = collect_facts(_case(extra={"a": "99.995", "b": "12.5", "c": "x0.7"}), SETTINGS)
    for value, found in [("100.00", True), ("100", True), ("13", True), ("12.50", True), ("12.6", False),
                         ("13.5", False), ("100.01", False), ("99.99", False), ("1", True)]:  # 1: x0.7 rounded
        assert facts.has_number(Decimal(value)) is found, value
        assert facts.has_number(Decimal(value)) is found, value  # the remembered answer


def test_claims_are_read_in_order_and_blanked() -> None:
    """An id holding a month stays an id; a date is not read again as amounts; a bad date stays text."""
    claims = extract_claims("INV-2026-09-0109 due 2026-09-30, not 2026-02-30; see Ops@Example.com by 3 June 2026")
    assert claims.ids == ["INV-2026-09-0109"]
    assert [d.isoformat() for _, d in claims.dates] == ["2026-09-30", "2026-06-03"]
    assert claims.months == [("2026-02", "2026-02")]
    assert claims.emails == ["ops@example.com"]
    assert [str(v) for _, v, _ in claims.numbers] == ["30"]
