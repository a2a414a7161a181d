"""Run the reconciliation: every registered rule over the chosen months (default: all with data)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import Engine

from billing.db import transaction
from billing.reconcile.config import ReconcileSettings, default_settings, using
from billing.reconcile.periods import parse_period, periods_with_data
from billing.reconcile.registry import RunReport, reconcile_period
from billing.reconcile.rules import register_all


def reconcile(
    engine: Engine,
    periods: list[str] | None = None,
    rules: Iterable[str] | None = None,
    as_of: date | None = None,
    *,
    settings: ReconcileSettings | None = None,
) -> list[RunReport]:
    """Apply `rules` (names; default all) to each of `periods` (``YYYY-MM``; default every month
    holding data), one transaction per month, as of `as_of` (default today, UTC).

    The run date is fixed once for the whole run so every month and rule sees the same day.
    Raises PeriodError for a malformed period and KeyError for an unknown rule name."""
    register_all()
    chosen_rules = list(rules) if rules is not None else None
    base = settings or default_settings()
    run_settings = base.model_copy(update={"as_of": as_of or base.run_date()})
    if periods:
        months = sorted({parse_period(p) for p in periods})
    else:
        with transaction(engine) as session:
            months = periods_with_data(session)
    with using(run_settings):
        return [reconcile_period(engine, month, chosen_rules) for month in months]
