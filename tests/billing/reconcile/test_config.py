"""ReconcileSettings: defaults, the run's own settings, and the hook into the product settings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from billing.reconcile import config
from billing.reconcile.config import ReconcileSettings, current, using


def test_defaults_outside_a_run_and_the_runs_settings_inside() -> None:
    assert current().usage_quantity_tolerance == Decimal(0)
    with using(ReconcileSettings(as_of=date(2027, 1, 15), usage_quantity_tolerance=Decimal("2"))):
        assert current().run_date() == date(2027, 1, 15)
        assert current().usage_quantity_tolerance == Decimal("2")
    assert current().as_of is None
    assert current().run_date() == datetime.now(UTC).date()


def test_configured_settings_become_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    configured = ReconcileSettings(invoice_grace_days=9)
    monkeypatch.setattr("billing.settings.get_settings", lambda: SimpleNamespace(reconcile=configured))
    assert config.default_settings().invoice_grace_days == 9


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="usage_quantity_tolerance"):
        ReconcileSettings(usage_quantity_tolerance=Decimal("-1"))
    with pytest.raises(ValidationError, match="no_such_knob"):
        ReconcileSettings(no_such_knob=1)  # type: ignore[call-arg]
