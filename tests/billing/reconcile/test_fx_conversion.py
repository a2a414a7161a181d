"""Rule `fx_conversion`: converted disbursements vs the exchange rate of the day.

DOMAIN.md: AWS disburses in USD, EUR, GBP, AUD, JPY; non-USD offers carry
disbursement_currency / disbursement_amount; `fx_variance` is a conversion difference, booked
as FX variance. Rates come from `fx_rates` (USD per unit), both currencies via USD.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine

from billing.db import transaction
from billing.reconcile.rules import fx_conversion as rule

from .factories import add_billing_event, make_account, make_contract, make_product
from .money_factories import (
    add_fx_rate,
    add_payout,
    add_payout_failure,
    check_rerun_lifecycle,
    run_rule,
    set_event,
)

PAID_ON = date(2026, 12, 5)


def _eur_offer_paid_in_usd(
    engine: Engine, *, usd_paid: str = "-106.70", on_payout_only: bool = False
) -> None:
    """A EUR 100.00 gross / 3.00 fee invoice paid out in USD on 5 December (EUR = 1.10 USD on the
    4th,
    the latest rate before the payout: 97.00 EUR → 106.70 USD)."""
    with transaction(engine) as s:
        account, product = make_account(s), make_product(s)
        make_contract(s, account, product, currency="EUR")
        add_fx_rate(s, "EUR", "1.08", date(2026, 11, 30))
        add_fx_rate(s, "EUR", "1.10", date(2026, 12, 4))
        add_fx_rate(s, "EUR", "1.20", date(2026, 12, 6))  # after the payout: never used for it
        converted = {} if on_payout_only else {"disbursement_currency": "USD"}
        add_payout(
            s,
            amount="-97.00",
            paid_on=PAID_ON,
            currency="EUR",
            action_date=PAID_ON,
            **(
                {"disbursement_currency": "USD", "disbursement_amount": Decimal(usd_paid)}
                if on_payout_only
                else {}
            ),
        )
        share = Decimal(usd_paid) / Decimal("-97.00")
        for n, (kind, amount) in enumerate(
            (("SELLER_REV_SHARE", "100.00"), ("AWS_REV_SHARE", "-3.00")), start=1
        ):
            add_billing_event(
                s,
                account,
                product,
                billing_event_id=f"be-inv-{n}",
                amount=amount,
                currency="EUR",
                transaction_type=kind,
            )
            paid = -Decimal(amount)
            add_billing_event(
                s,
                account,
                product,
                billing_event_id=f"be-dis-{n}",
                amount=paid,
                currency="EUR",
                transaction_type=kind,
                action="DISBURSED",
                parent_billing_event_id=f"be-inv-{n}",
                disbursement_billing_event_id="be-payout",
                invoice_date=PAID_ON,
                action_date=PAID_ON,
                **(
                    {}
                    if on_payout_only
                    else {
                        **converted,
                        "disbursement_amount": (paid * share).quantize(Decimal("0.01")),
                    }
                ),
            )


def test_conversion_at_the_rate_of_the_day_raises_nothing(engine: Engine) -> None:
    _eur_offer_paid_in_usd(engine)
    assert run_rule(engine, rule).exceptions == []


def test_conversion_beyond_half_a_percent_is_raised_in_the_payout_currency(engine: Engine) -> None:
    """97.00 EUR at 1.10 is 106.70 USD; 104.00 USD paid is 2.53 % short."""
    _eur_offer_paid_in_usd(engine, usd_paid="-104.00")
    exc = run_rule(engine, rule).only()
    assert exc.kind == "fx_difference" and exc.currency == "USD" and exc.period == "2026-10"
    assert (exc.expected_amount, exc.observed_amount, exc.delta_amount) == (
        Decimal("106.70"),
        Decimal("104.00"),
        Decimal("-2.70"),
    )
    assert exc.record_refs == {
        "billing_events": ["be-dis-1", "be-dis-2"],
        "contracts": ["C-ACME-0001"],
    }
    assert exc.details["booked_rate"] == "1.100000" and exc.details["source_currency"] == "EUR"
    assert exc.details["rate_dates"] == ["2026-12-05"]


def test_within_tolerance_is_not_raised(engine: Engine) -> None:
    """106.30 vs 106.70 is 0.37 %: inside the default 0.5 % tolerance."""
    _eur_offer_paid_in_usd(engine, usd_paid="-106.30")
    assert run_rule(engine, rule).exceptions == []
    assert run_rule(engine, rule, fx_tolerance=Decimal("0.001")).only().delta_amount == Decimal(
        "-0.40"
    )


def test_a_converted_payout_row_is_checked_when_its_rows_are_not(engine: Engine) -> None:
    _eur_offer_paid_in_usd(engine, usd_paid="-100.00", on_payout_only=True)
    exc = run_rule(engine, rule).only()
    assert exc.record_refs["billing_events"] == ["be-payout"] and exc.observed_amount == Decimal(
        "100.00"
    )
    assert exc.period == "2026-10"  # the payout pays October's invoice


def test_rerun_is_idempotent_changed_data_updates_and_a_fix_closes(engine: Engine) -> None:
    _eur_offer_paid_in_usd(engine, usd_paid="-100.00", on_payout_only=True)
    assert run_rule(engine, rule).stats.opened == 1

    def set_paid(amount: str) -> None:
        set_event(engine, "be-payout", disbursement_amount=Decimal(amount))

    check_rerun_lifecycle(
        engine, rule, set_paid, changed="-101.00", shows=Decimal("101.00"), fixed="-106.70"
    )


def test_a_bounced_converted_payout_is_not_an_fx_difference(engine: Engine) -> None:
    """A DISBURSEMENT_FAILURE row repeating the payout's converted amount converts nothing."""
    _eur_offer_paid_in_usd(engine, on_payout_only=True)
    with transaction(engine) as s:
        add_payout_failure(
            s,
            amount="97.00",
            currency="EUR",
            disbursement_currency="USD",
            disbursement_amount=Decimal("100.00"),
        )
    assert run_rule(engine, rule).exceptions == []
