"""Compound cases: causes of different families on one account, period and product go to a person."""

from decimal import Decimal

from agent.compound import compound_reasons, problem_amount


def entry(rule: str, kind: str, *, exception_id: int = 2, period: str = "2026-10", product: str | None = "P1",
          status: str = "open") -> dict:
    return {"exception_id": exception_id, "rule": rule, "kind": kind, "period": period,
            "product_code": product, "status": status}


def case(rule: str, *history: dict) -> tuple[dict, dict]:
    exception = {"id": 1, "rule": rule, "period": "2026-10", "product_code": "P1"}
    return exception, {"get_account_history": {"entries": list(history)}}


def test_rate_difference_beside_dropped_hours_is_compound() -> None:
    exc, ev = case("billed_rate_vs_contract", entry("metering_gaps", "metering_missing_hours"))
    reasons = compound_reasons(exc, ev, "price_mismatch")
    assert reasons and "metering_gaps/metering_missing_hours" in reasons[0]


def test_one_cause_tripping_several_rules_is_not_compound() -> None:
    # A cancelled agreement: rejected records, missing hours and usage without an agreement.
    exc, ev = case("metering_gaps", entry("metering_not_accepted", "metering_customer_not_subscribed"),
                   entry("usage_without_agreement", "usage_without_active_agreement", exception_id=3))
    assert compound_reasons(exc, ev, "entitlement_mismatch") == []


def test_fx_difference_beside_an_undisbursed_invoice_is_compound_both_ways() -> None:
    exc, ev = case("fx_conversion", entry("disbursed_vs_invoiced", "undisbursed"))
    assert compound_reasons(exc, ev, "fx_variance")
    exc, ev = case("disbursed_vs_invoiced", entry("fx_conversion", "fx_difference"))
    assert compound_reasons(exc, ev, "short_payment")


def test_other_products_periods_closed_cases_and_itself_do_not_count() -> None:
    exc, ev = case("billed_rate_vs_contract",
                   entry("metering_gaps", "metering_missing_hours", product="P2"),
                   entry("metering_gaps", "metering_missing_hours", period="2026-09"),
                   entry("metering_gaps", "metering_missing_hours", status="closed"),
                   entry("metering_gaps", "metering_missing_hours", exception_id=1))
    assert compound_reasons(exc, ev, "price_mismatch") == []


def test_the_same_difference_on_several_dimensions_is_one_problem() -> None:
    exc = {"id": 1, "rule": "usage_vs_partner_usage", "kind": "usage_shortfall", "period": "2026-10",
           "product_code": "P1", "currency": "USD", "delta_amount": "-4000"}
    history = {"get_account_history": {"entries": [
        {**exc, "id": None, "exception_id": 2, "delta_amount": "-7000.50", "status": "open"},
        {**exc, "id": None, "exception_id": 3, "delta_amount": "-100", "status": "closed"},
        {**exc, "id": None, "exception_id": 4, "delta_amount": "-100", "product_code": "P2", "status": "open"},
    ]}}
    assert problem_amount(exc, history) == (Decimal("11000.50"), 2)


def test_an_imported_exception_takes_its_categorys_family() -> None:
    """Another tool's rule name says nothing; the classified cause places it among our rules."""
    exc, ev = case("revassure:BILLED_ABOVE_CONTRACT", entry("metering_gaps", "metering_missing_hours"))
    assert compound_reasons(exc, ev, "price_mismatch")
    exc, ev = case("revassure:BILLED_ABOVE_CONTRACT", entry("metering_not_accepted", "metering_customer_not_subscribed"))
    assert compound_reasons(exc, ev, "rejected_metering") == []  # the same family: one cause


def test_two_different_imported_differences_on_one_product_may_be_two_causes() -> None:
    exc, ev = case("cash-recon", entry("usage-recon", "QTY_VARIANCE"))
    exc["kind"] = "REMITTANCE_BELOW_NET"
    assert compound_reasons(exc, ev, "short_payment")
    same = entry("cash-recon", "REMITTANCE_BELOW_NET")  # the same difference on another dimension or row
    exc, ev = case("cash-recon", same)
    exc["kind"] = "REMITTANCE_BELOW_NET"
    assert compound_reasons(exc, ev, "short_payment") == []
