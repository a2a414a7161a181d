"""The draft check: every amount and id of a draft found in what the case was given, with the
verify step's own parser (DESIGN.md: "a number or identifier in a draft must come from the evidence")."""

from __future__ import annotations

from agent.llm.base import SopPassage
from agent.verify import Facts, collect_facts
from billing.settings import Settings
from evals.capture import CaseCapture
from evals.drafts import check_draft_of, unsupported_claims

PASSAGE = SopPassage(chunk_id="short_payment#decision-steps", sop_id="short_payment", version="2.0",
                     heading="Decision steps", text="Chase the partner after the due date.", categories=["short_payment"])
TOOLS = {"get_invoice": {"invoice_number": "INV-2026-0042", "total": "1234.5", "listing_fee_rate": "0.03"}}
STATE = {"exception_id": 1, "exception": {"rule": "direct_payments", "delta_amount": "-200", "currency": "USD"},
         "outside_text": [], "evidence": {}, "sop_passages": []}  # as finalize leaves it: evidence dropped


def _capture() -> CaseCapture:
    capture = CaseCapture(lambda categories, channel: [PASSAGE], lambda engine, exception_id: TOOLS)
    capture.tools(None, 1)  # type: ignore[arg-type]
    capture.retrieve(["short_payment"], "direct")
    return capture


def _facts() -> Facts:
    capture = _capture()
    case = capture.case_input(STATE)
    return collect_facts(case, Settings(), capture.evidence_text(case))


def test_amounts_written_as_a_draft_prints_them_are_found() -> None:
    """1234.5 in the evidence admits "USD 1,234.50"; 0.03 admits "3%"; 200 admits "USD 200.00"."""
    assert unsupported_claims("Invoice INV-2026-0042: USD 1,234.50 billed, USD 200.00 short, fee 3%.",
                              _facts()) == ([], [], [])


def test_an_invented_amount_and_an_invented_id_are_reported() -> None:
    amounts, ids, other = unsupported_claims("We were paid USD 999.99 on invoice INV-2026-0043.", _facts())
    assert amounts == ["USD 999.99"] and ids == ["INV-2026-0043"] and other == []


def test_dates_and_addresses_not_in_the_evidence_are_other_claims() -> None:
    _, _, other = unsupported_claims("Paid on 2026-10-15; write to someone@elsewhere.example.", _facts())
    assert other == ["2026-10-15", "someone@elsewhere.example"]


def test_the_final_draft_is_checked_against_the_recorded_evidence() -> None:
    """The graph's final state no longer holds the tool results; the recorded ones are used."""
    draft = {"kind": "email", "to": "customer billing contact (from CRM)", "subject": "Invoice INV-2026-0042",
             "body": "USD 1,234.50 billed; USD 50.00 received.", "sop_steps": ["short_payment#decision-steps"]}
    check = check_draft_of({**STATE, "draft": draft}, _capture(), Settings())
    assert check is not None
    assert check.invented_amounts == ["USD 50.00"] and check.invented_number and not check.faithful
    assert check.sop_cited


def test_a_draft_citing_no_retrieved_passage_does_not_cite_the_sop() -> None:
    for steps in ([], ["refund_discrepancy#steps"]):
        draft = {"kind": "email", "to": "x", "subject": "s", "body": "b", "sop_steps": steps}
        check = check_draft_of({**STATE, "draft": draft}, _capture(), Settings())
        assert check is not None and not check.sop_cited and check.faithful
    assert check_draft_of(STATE, _capture(), Settings()) is None  # no draft (the backend failed)
