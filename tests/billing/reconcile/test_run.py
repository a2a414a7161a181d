"""`reconcile()`: every rule over every month with data, idempotent, one transaction per month."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select, update

from billing.db import transaction
from billing.models import Discrepancy, PartnerUsage
from billing.reconcile.periods import PeriodError
from billing.reconcile.rules import ALL_RULES
from billing.reconcile.run import reconcile
from billing.reconcile.summary import open_exceptions, totals_per_rule

from .factories import AS_OF, add_billing_event, aws_month

USAGE_RULES = ["usage_vs_partner_usage", "metering_not_accepted", "metering_gaps", "billed_rate_vs_contract",
               "usage_without_agreement", "usage_without_invoice", "channel_overlap"]


def _faulty_month(engine: Engine) -> None:
    """The clean month, invoiced, with the partner seeing 20 api_calls fewer on Oct 31."""
    with transaction(engine) as s:
        month = aws_month(s)
        add_billing_event(s, month.account, month.product, billing_event_id="be-" + "3" * 37, amount="0.50")
        s.flush()
        s.execute(update(PartnerUsage).where(PartnerUsage.usage_date == date(2026, 10, 31))
                  .values(usage_quantity=Decimal("80")))


def test_every_usage_rule_is_registered() -> None:
    assert set(USAGE_RULES) <= {m.RULE for m in ALL_RULES}


def test_all_months_with_data_and_all_rules(engine: Engine) -> None:
    _faulty_month(engine)
    reports = reconcile(engine, as_of=AS_OF)
    # Usage in October; the billing event's invoice date is in November.
    assert [r.period for r in reports] == ["2026-10", "2026-11"]
    assert set(USAGE_RULES) <= set(reports[0].per_rule)
    totals = totals_per_rule(reports)
    assert totals["usage_vs_partner_usage"].opened == 1
    with transaction(engine) as s:
        kinds = sorted(s.scalars(select(Discrepancy.kind).where(Discrepancy.rule.in_(USAGE_RULES))))
        assert kinds == ["usage_shortfall"]
        (summary,) = [r for r in open_exceptions(s) if r.kind == "usage_shortfall"]
    assert (summary.channel, summary.currency, summary.count) == ("aws_marketplace", "USD", 1)
    assert summary.amount_at_stake == Decimal("0.04")  # 20 api_calls × 0.002


def test_rerun_changes_nothing(engine: Engine) -> None:
    _faulty_month(engine)
    reconcile(engine, as_of=AS_OF)
    again = totals_per_rule(reconcile(engine, as_of=AS_OF))
    assert sum(s.opened + s.updated + s.closed + s.reopened for s in again.values()) == 0
    assert again["usage_vs_partner_usage"].unchanged == 1
    with transaction(engine) as s:
        assert len(s.scalars(select(Discrepancy.id)).all()) == sum(t.unchanged for t in again.values())


def test_chosen_period_and_rule(engine: Engine) -> None:
    _faulty_month(engine)
    (report,) = reconcile(engine, periods=["2026-10"], rules=["metering_gaps"], as_of=AS_OF)
    assert report.period == "2026-10" and list(report.per_rule) == ["metering_gaps"]


def test_bad_period_or_rule_is_refused_before_anything_runs(engine: Engine) -> None:
    with pytest.raises(PeriodError, match="2026-13"):
        reconcile(engine, periods=["2026-13"])
    with pytest.raises(KeyError, match="no_such_rule"):
        reconcile(engine, periods=["2026-10"], rules=["no_such_rule"])
    with transaction(engine) as s:
        assert s.scalars(select(Discrepancy.id)).all() == []
