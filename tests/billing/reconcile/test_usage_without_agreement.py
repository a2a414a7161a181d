"""Rule `usage_without_agreement`: usage outside the hours an active AWS agreement covers.

DOMAIN.md (entitlement_mismatch): "billing ≠ subscription state — agreement
SUPERSEDED/ROLLED_BACK; usage after cancellation"; the agreement feed carries `status`
(incl. SUPERSEDED, ROLLED_BACK), `start_time`, `end_time` and `preceding_agreement_id`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, update

from billing.db import transaction
from billing.models import Agreement, ExceptionStatus
from billing.reconcile.rules import usage_without_agreement as rule

from .factories import aws_month, make_agreement, make_contract, reconcile_once, utc


def _set_agreement(engine: Engine, **values: object) -> None:
    with transaction(engine) as s:
        s.execute(update(Agreement).where(Agreement.agreement_id == "agmt-acme0001aaaaaaaaaaaaaa").values(**values))


def test_clean_month_raises_nothing(engine: Engine) -> None:
    with transaction(engine) as s:
        aws_month(s)
    assert reconcile_once(engine, rule).exceptions == []


def test_usage_after_cancellation_is_found(engine: Engine) -> None:
    """Cancelled on Oct 15: the 100 api_calls of Oct 31 are used without an agreement."""
    with transaction(engine) as s:
        aws_month(s)
    _set_agreement(engine, status="CANCELLED", end_time=utc(2026, 10, 15))
    (exc,) = reconcile_once(engine, rule).exceptions
    assert exc.kind == "usage_without_active_agreement" and exc.channel == "aws_marketplace"
    assert exc.dimension_key == "api_calls" and exc.observed_quantity == Decimal("100")
    assert exc.expected_amount == Decimal("0") and exc.observed_amount == Decimal("0.2")
    assert exc.delta_amount == Decimal("0.2") and exc.currency == "USD"
    assert exc.record_refs["contracts"] == ["C-ACME-0001"]
    assert exc.record_refs["agreements"] == ["agmt-acme0001aaaaaaaaaaaaaa"]
    assert len(exc.record_refs["usage_records"]) == 2  # the two hours of Oct 31 with usage
    assert exc.details["agreement_status"] == "CANCELLED"
    assert exc.details["uncovered"] == [["2026-10-15T00:00:00Z", "2026-11-01T00:00:00Z"]]


@pytest.mark.parametrize(("status", "expected"), [("ROLLED_BACK", "250"), ("SUPERSEDED", "250"), ("EXPIRED", "0")])
def test_status_decides_what_is_covered(engine: Engine, status: str, expected: str) -> None:
    """ROLLED_BACK never took effect; SUPERSEDED without a known successor covers nothing;
    EXPIRED still covers its own window (Jan 2026 – Jan 2027)."""
    with transaction(engine) as s:
        aws_month(s)
    _set_agreement(engine, status=status)
    found = reconcile_once(engine, rule).exceptions
    assert sum((e.observed_quantity or Decimal(0)) for e in found) == Decimal(expected)


def test_missing_agreement_and_late_start(engine: Engine) -> None:
    with transaction(engine) as s:
        aws_month(s)
    _set_agreement(engine, start_time=utc(2026, 10, 2))  # accepted after the first day's usage
    (late,) = reconcile_once(engine, rule).exceptions
    assert late.observed_quantity == Decimal("150")
    _set_agreement(engine, agreement_id="agmt-someoneelse000000000000")  # the feed lacks ours
    (missing,) = reconcile_once(engine, rule).open
    assert missing.details["agreement_status"] == "NOT_FOUND" and missing.observed_quantity == Decimal("250")
    assert missing.id == late.id  # same contract, same month: the exception is updated


def test_clean_replacement_mid_month_raises_nothing(engine: Engine) -> None:
    """A replacement agreement from Oct 15: the old one is SUPERSEDED, our contracts follow."""
    with transaction(engine) as s:
        month = aws_month(s)
        month.contract.end_date = date(2026, 10, 14)
        month.agreement.status = "SUPERSEDED"
        make_agreement(s, month.account, agreement_id="agmt-acme0002bbbbbbbbbbbbbb", intent="REPLACE",
                       start_time=utc(2026, 10, 15), preceding_agreement_id=month.agreement.agreement_id)
        make_contract(s, month.account, month.product, contract_key="C-ACME-0002", start_date=date(2026, 10, 15),
                      agreement_id="agmt-acme0002bbbbbbbbbbbbbb", is_renewal=True)
    assert reconcile_once(engine, rule).exceptions == []


def test_superseded_by_an_active_successor_our_contract_not_updated(engine: Engine) -> None:
    """The successor started Oct 15 and our contract still names the old agreement: the buyer is
    subscribed under the replacement, so no hour is without an agreement (a refusal of our
    metering then is a stale mapping, the rejected metering runbook's case)."""
    with transaction(engine) as s:
        month = aws_month(s)
        month.agreement.status = "SUPERSEDED"
        make_agreement(s, month.account, agreement_id="agmt-acme0002bbbbbbbbbbbbbb", intent="REPLACE",
                       start_time=utc(2026, 10, 15), preceding_agreement_id=month.agreement.agreement_id)
    assert reconcile_once(engine, rule).exceptions == []


@pytest.mark.parametrize(("successor", "expected"), [
    ({"status": "ROLLED_BACK"}, "100"),  # never took effect: nothing after Oct 15
    ({"status": "CANCELLED", "end_time": utc(2026, 10, 20)}, "100"),  # only its own status counts
    ({"start_time": utc(2026, 10, 31, 23)}, "70"),  # a gap: the old one ended Oct 15, the new one at 23:00
])
def test_successor_that_does_not_cover(engine: Engine, successor: dict[str, object], expected: str) -> None:
    """The factory's month uses 70 units at 22:00 and 30 at 23:00 on Oct 31."""
    with transaction(engine) as s:
        month = aws_month(s)
        month.agreement.status = "SUPERSEDED"
        month.agreement.end_time = utc(2026, 10, 15)
        make_agreement(s, month.account, **{"agreement_id": "agmt-acme0002bbbbbbbbbbbbbb", "intent": "REPLACE",
                                            "start_time": utc(2026, 10, 15),
                                            "preceding_agreement_id": month.agreement.agreement_id} | successor)
    (exc,) = reconcile_once(engine, rule).exceptions
    assert exc.observed_quantity == Decimal(expected)
    assert exc.details["successor_agreement_id"] == "agmt-acme0002bbbbbbbbbbbbbb"


def test_rerun_update_and_close(engine: Engine) -> None:
    with transaction(engine) as s:
        aws_month(s)
    _set_agreement(engine, status="CANCELLED", end_time=utc(2026, 10, 31, 23))
    first = reconcile_once(engine, rule)
    again = reconcile_once(engine, rule)
    assert (again.stats.opened, again.stats.unchanged) == (0, 1)
    assert [e.id for e in again.exceptions] == [e.id for e in first.exceptions]
    assert first.exceptions[0].observed_quantity == Decimal("30")
    _set_agreement(engine, end_time=utc(2026, 10, 31, 22))
    changed = reconcile_once(engine, rule)
    assert changed.stats.updated == 1 and changed.exceptions[0].observed_quantity == Decimal("100")
    _set_agreement(engine, status="ACTIVE", end_time=utc(2027, 1, 1))  # reinstated
    closed = reconcile_once(engine, rule)
    assert closed.stats.closed == 1 and closed.exceptions[0].status == ExceptionStatus.CLOSED


def test_uncovered_intervals() -> None:
    span = (utc(2026, 10, 1), utc(2026, 11, 1))
    assert rule.uncovered(span, []) == [span]
    assert rule.uncovered(span, [(utc(2026, 9, 1), utc(2026, 12, 1))]) == []
    assert rule.uncovered(span, [(utc(2026, 10, 5), utc(2026, 10, 20))]) == [
        (utc(2026, 10, 1), utc(2026, 10, 5)), (utc(2026, 10, 20), utc(2026, 11, 1))]
    # A superseded agreement and its successor after a gap: only the gap and the edges are left.
    assert rule.uncovered(span, [(utc(2026, 9, 1), utc(2026, 10, 10)), (utc(2026, 10, 12), utc(2026, 10, 30))]) == [
        (utc(2026, 10, 10), utc(2026, 10, 12)), (utc(2026, 10, 30), utc(2026, 11, 1))]
