"""Review decisions — approve, edit, reclassify, reject — update the queue, the audit trail,
the case library and the exception (issue 4, item 7)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select

from agent.audit import trail_of
from agent.review_queue import ReviewDecision, ReviewError, get_item, pending_items
from agent.runner import Triage
from agent.schemas import Draft
from billing.db import session_factory
from billing.models import CaseExample, Discrepancy, ReviewItem
from billing.settings import Settings
from tests.agent.triage_graph.conftest import TriageFactory
from tests.agent.triage_graph.fakes import add_exception


def _material_case(engine: Engine, triage: Triage, n: int = 0) -> tuple[int, int]:
    """A case routed to a person (USD 20,000 at stake); returns (exception id, item id)."""
    exception_id = add_exception(engine, expected="25000.00", observed="5000.00", n=n)
    outcome = triage.case(exception_id)
    assert outcome.status == "waiting_review" and outcome.review_item_id is not None
    return exception_id, outcome.review_item_id


def _example(engine: Engine, exception_id: int) -> CaseExample:
    with session_factory(engine)() as session:
        return session.scalars(select(CaseExample).where(CaseExample.exception_id == exception_id)).one()


def _status(engine: Engine, exception_id: int) -> str:
    with session_factory(engine)() as session:
        row = session.get(Discrepancy, exception_id)
        assert row is not None
        return row.status


def _events(engine: Engine, exception_id: int) -> list[str]:
    with session_factory(engine)() as session:
        return [e.event for e in trail_of(session, exception_id)]


def test_pending_case_waits_in_the_queue(engine: Engine, make_triage: TriageFactory) -> None:
    exception_id, item_id = _material_case(engine, make_triage())
    with session_factory(engine)() as session:
        [item] = pending_items(session)
    assert (item.id, item.exception_id, item.status, item.category) == (item_id, exception_id, "pending", "dropped_metering")
    assert item.reasons == ["amount at stake USD 20,000.00 is at or above materiality USD 10,000.00"]
    assert item.draft is not None and item.draft["kind"] == "internal_resolution"
    assert _status(engine, exception_id) == "in_review"
    # The trail so far is stored while the case waits, so a reviewer can read it.
    assert _events(engine, exception_id) == ["inputs", "tool_results", "sop_passages", "classification", "draft",
                                             "verify", "route"]


def test_approve(engine: Engine, make_triage: TriageFactory) -> None:
    triage = make_triage()
    exception_id, item_id = _material_case(engine, triage)
    outcome = triage.resume(item_id, ReviewDecision(decision="approve", reviewer="ana"))
    assert outcome.status == "resolved"
    assert _status(engine, exception_id) == "resolved"
    with session_factory(engine)() as session:
        item = get_item(session, item_id)
        assert pending_items(session) == []
        decision = trail_of(session, exception_id, event="review_decision")
    assert (item.status, item.decision, item.reviewer) == ("decided", "approve", "ana")
    assert [(d.actor, d.payload["decision"]) for d in decision] == [("ana", "approve")]
    assert _events(engine, exception_id)[-2:] == ["review_decision", "finalize"]
    example = _example(engine, exception_id)
    assert (example.category, example.accepted, example.decision, example.reviewer, example.source) == (
        "dropped_metering", True, "approve", "ana", "review")


def test_edit_with_a_changed_draft(engine: Engine, make_triage: TriageFactory, settings: Settings) -> None:
    triage = make_triage()
    exception_id, item_id = _material_case(engine, triage)
    edited = Draft(kind="internal_resolution", to=settings.email.internal_owner, subject="Resend October usage",
                   body="Resend the missing hours before the window closes.")
    outcome = triage.resume(item_id, ReviewDecision(decision="edit", reviewer="ben", draft=edited))
    assert outcome.status == "resolved"
    assert outcome.values["draft"]["subject"] == "Resend October usage"
    with session_factory(engine)() as session:
        [final] = trail_of(session, exception_id, event="finalize")
        item = session.get(ReviewItem, item_id)
        assert item is not None and item.decided_draft is not None
        assert item.decided_draft["subject"] == "Resend October usage"
    assert final.payload["draft"]["subject"] == "Resend October usage" and final.payload["decided_by"] == "ben"
    example = _example(engine, exception_id)
    assert (example.decision, example.accepted, example.draft and example.draft["subject"]) == (
        "edit", True, "Resend October usage")


def test_edit_with_another_category(engine: Engine, make_triage: TriageFactory) -> None:
    triage = make_triage()
    exception_id, item_id = _material_case(engine, triage)
    outcome = triage.resume(item_id, ReviewDecision(decision="edit", reviewer="ben", category="wrong_dimension"))
    assert outcome.category == "wrong_dimension"
    example = _example(engine, exception_id)
    assert (example.category, example.proposed_category, example.accepted) == ("wrong_dimension", "dropped_metering", False)


def _edited(settings: Settings, body: str) -> Draft:
    return Draft(kind="internal_resolution", to=settings.email.internal_owner, subject="Rebill October usage", body=body)


def test_an_edit_is_checked_like_a_draft_and_refused_with_its_problems(
        engine: Engine, make_triage: TriageFactory, settings: Settings) -> None:
    """A mistyped amount is caught before anyone approves it: the item stays pending, unchanged."""
    triage = make_triage()
    exception_id, item_id = _material_case(engine, triage)
    mistyped = _edited(settings, "Rebill USD 21,000.00 for the hours AWS never received (USD 21,000.00 in all).")
    with pytest.raises(ReviewError) as refused:
        triage.resume(item_id, ReviewDecision(decision="edit", reviewer="ben", draft=mistyped))
    # Each problem once (the amount is written twice), and the way out named.
    assert str(refused.value).count("amount 'USD 21,000.00' is not in the evidence") == 1
    assert "--accept-unverified" in str(refused.value)
    with session_factory(engine)() as session:
        assert [i.id for i in pending_items(session)] == [item_id]
    assert _status(engine, exception_id) == "in_review" and "review_decision" not in _events(engine, exception_id)

    corrected = _edited(settings, "Rebill USD 20,000.00 for the hours AWS never received.")
    outcome = triage.resume(item_id, ReviewDecision(decision="edit", reviewer="ben", draft=corrected))
    assert (outcome.status, outcome.problems) == ("resolved", [])
    assert outcome.values["draft"]["body"] == corrected.body


def test_an_edit_kept_unverified_is_on_record(engine: Engine, make_triage: TriageFactory, settings: Settings) -> None:
    triage = make_triage()
    exception_id, item_id = _material_case(engine, triage)
    draft = _edited(settings, "Rebill USD 21,000.00 as agreed with the customer by phone.")
    outcome = triage.resume(item_id, ReviewDecision(decision="edit", reviewer="ben", draft=draft, accept_unverified=True))
    assert outcome.status == "resolved"
    assert outcome.problems == ["body: amount 'USD 21,000.00' is not in the evidence"]
    with session_factory(engine)() as session:
        [decided] = trail_of(session, exception_id, event="review_decision")
    assert decided.actor == "ben" and decided.payload["unverified"] == outcome.problems


def test_an_edit_to_a_category_the_action_does_not_suit_is_a_reclassification(
        engine: Engine, make_triage: TriageFactory) -> None:
    triage = make_triage()
    _, item_id = _material_case(engine, triage)
    with pytest.raises(ReviewError, match="action rebill does not suit category timing_difference; reclassify instead"):
        triage.resume(item_id, ReviewDecision(decision="edit", reviewer="ben", category="timing_difference"))
    second = triage.resume(item_id, ReviewDecision(decision="reclassify", reviewer="ben", category="timing_difference"))
    assert second.status == "waiting_review" and second.action == "no_action_timing"

    _, other = _material_case(engine, triage, n=1)
    kept = triage.resume(other, ReviewDecision(decision="edit", reviewer="ben", category="timing_difference",
                                               accept_unverified=True))
    assert (kept.status, kept.category, kept.action) == ("resolved", "timing_difference", "rebill")
    assert any("action rebill does not suit category timing_difference" in p for p in kept.problems)


def test_reclassify_redrafts_and_asks_again(engine: Engine, make_triage: TriageFactory) -> None:
    triage = make_triage()
    exception_id, item_id = _material_case(engine, triage)
    second = triage.resume(item_id, ReviewDecision(decision="reclassify", reviewer="cy", category="timing_difference",
                                                   reason="usage on the last hour of the month"))
    assert second.status == "waiting_review" and second.review_item_id not in (None, item_id)
    assert second.category == "timing_difference" and second.action == "no_action_timing"
    assert "reclassified by cy: the redrafted resolution needs approval" in second.reasons
    with session_factory(engine)() as session:
        first_item, [new_item] = get_item(session, item_id), pending_items(session)
    assert (first_item.status, first_item.decision) == ("decided", "reclassify")
    assert (new_item.round, new_item.category) == (2, "timing_difference")
    example = _example(engine, exception_id)
    assert (example.category, example.proposed_category, example.accepted) == ("timing_difference", "dropped_metering", False)

    done = triage.resume(new_item.id, ReviewDecision(decision="approve", reviewer="cy"))
    assert done.status == "resolved" and _status(engine, exception_id) == "resolved"
    example = _example(engine, exception_id)
    # The agent's first proposal was wrong; approving the redraft does not make it right.
    assert (example.category, example.accepted, example.decision, example.action) == (
        "timing_difference", False, "approve", "no_action_timing")


def test_reject_with_a_reason(engine: Engine, make_triage: TriageFactory) -> None:
    triage = make_triage()
    exception_id, item_id = _material_case(engine, triage)
    outcome = triage.resume(item_id, ReviewDecision(decision="reject", reviewer="dee", reason="usage export was late"))
    assert outcome.status == "in_review"  # stays with the person for manual handling
    with session_factory(engine)() as session:
        item = get_item(session, item_id)
    assert (item.status, item.decision, item.decision_reason) == ("decided", "reject", "usage export was late")
    example = _example(engine, exception_id)
    assert (example.accepted, example.decision, example.reason) == (False, "reject", "usage export was late")


def test_an_item_is_decided_once(engine: Engine, make_triage: TriageFactory) -> None:
    triage = make_triage()
    _, item_id = _material_case(engine, triage)
    triage.resume(item_id, ReviewDecision(decision="approve", reviewer="ana"))
    with pytest.raises(ReviewError, match="not pending"):
        triage.resume(item_id, ReviewDecision(decision="reject", reviewer="eve", reason="late"))


def test_a_case_waiting_for_review_is_not_triaged_again(engine: Engine, make_triage: TriageFactory) -> None:
    triage = make_triage()
    exception_id, item_id = _material_case(engine, triage)
    with pytest.raises(ReviewError, match=f"waiting for review \\(item {item_id}\\)"):
        triage.case(exception_id)


@pytest.mark.parametrize(("fields", "message"), [
    ({"decision": "reject", "reviewer": "ana"}, "reject needs a reason"),
    ({"decision": "reclassify", "reviewer": "ana"}, "reclassify needs --category"),
    ({"decision": "edit", "reviewer": "ana"}, "edit needs a changed draft"),
    ({"decision": "approve", "reviewer": " "}, "reviewer must name a person"),
    ({"decision": "maybe", "reviewer": "ana"}, "decision"),
])
def test_decisions_are_validated(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ReviewDecision.model_validate(fields)
