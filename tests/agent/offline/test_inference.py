"""Exceptions imported from another tool: rule and kind names we do not know, no details of ours.

The offline backend reads their cause from the evidence each runbook's decision steps look at
(DOMAIN.md's "evidence that tells it apart"), tied to the exception by the records it names and
by its amounts — not from the other tool's words. Small hand-built cases, one per family.
"""

from __future__ import annotations

from typing import Any

import pytest

from agent.llm.base import CaseInput
from agent.llm.offline import OfflineBackend
from agent.llm.offline.calibration import Calibrator
from agent.llm.offline.diagnosis import diagnose, known_rule
from agent.llm.offline.inference import hinted, kind_words
from agent.llm.offline.signals import Facts
from agent.schemas import Action, Category, EscalateTo

C = Category


def imported(rule: str = "legacy-recon", kind: str = "EXCEPTION", evidence: dict[str, Any] | None = None,
             **fields: Any) -> CaseInput:
    exc = {"rule": rule, "kind": kind, "channel": "aws_marketplace", "currency": "USD", "period": "2026-08",
           "expected_amount": "1200.00", "observed_amount": "1000.00", "delta_amount": "-200.00",
           "details": {"source_system": rule}, "record_refs": {}, "description": f"{rule} {kind}", **fields}
    return CaseInput(case_id="imp-1", exception=exc, evidence=evidence or {})


def events(*rows: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"get_partner_billing_events": {"events": list(rows), "invoices": [], "payouts": [], **extra}}


def event(event_id: str, action: str, ttype: str, amount: str, **more: Any) -> dict[str, Any]:
    return {"billing_event_id": event_id, "action": action, "transaction_type": ttype, "amount": amount,
            "currency": "USD", **more}


USAGE_TOTALS = {"totals": [{"product_code": "p1", "dimension_key": "api_calls", "ours": "1000", "partner": "800",
                            "difference": "-200"}], "daily": [], "ours_hourly": []}
ACTIVE = {"agreements": [], "contracts": [{"contract_key": "CT-1", "agreement_id": "agmt-1",
                                           "agreement_status": "ACTIVE", "covers_period": True}]}


@pytest.fixture(scope="module")
def backend() -> OfflineBackend:
    return OfflineBackend(library_cases=[], imported_calibrator=Calibrator((), ()))


def top(case: CaseInput) -> Category:
    return diagnose(Facts(case))[0].category


def test_our_rules_are_known_and_another_tools_are_not() -> None:
    assert known_rule("usage_vs_partner_usage") and known_rule("direct_payments")
    assert not known_rule("cash-recon") and not known_rule("") and not known_rule(None)


def test_kind_words_split_the_other_tools_names() -> None:
    assert kind_words(Facts(imported("cash-recon", "REMITTANCE_BELOW_NET"))) == ["cash", "recon", "remittance",
                                                                                "below", "net"]
    assert C.SHORT_PAYMENT in hinted(Facts(imported("ar-recon", "shortPaid")))


def test_forgiven_rows_carrying_the_amount() -> None:
    ev = events(event("be-1", "INVOICED", "SELLER_REV_SHARE", "1200"), event("be-2", "FORGIVEN", "SELLER_REV_SHARE", "-1200"))
    assert top(imported(evidence=ev, observed_amount="0", delta_amount="-1200")) is C.FORGIVEN_CHARGE


def test_failed_payout_named_by_the_exception() -> None:
    ev = events(event("be-9", "DISBURSED", "DISBURSEMENT_FAILURE", "1200"))
    assert top(imported(evidence=ev, record_refs={"billing_events": ["be-9"]})) is C.DISBURSEMENT_FAILURE


def test_payout_that_does_not_add_up() -> None:
    ev = events(payouts=[{"billing_event_id": "po-1", "transaction_type": "DISBURSEMENT", "amount": "-1000.00",
                          "rows_total": "-1200.00", "adds_up": False}])
    assert top(imported(evidence=ev)) is C.DISBURSEMENT_FAILURE


def test_listing_fee_difference_equal_to_the_delta() -> None:
    ev = {"check_listing_fee": {"lines": [{"invoice_id": "i-1", "listing_fee": "500", "expected_fee": "300",
                                           "fee_difference": "200.00", "observed_rate": "0.05",
                                           "contracted_rate": "0.03", "matches_contract": False}]}}
    assert top(imported(evidence=ev)) is C.LISTING_FEE_MISMATCH


def test_a_fee_mismatch_elsewhere_on_the_account_does_not_decide_a_short_payment() -> None:
    ev = {"check_listing_fee": {"lines": [{"invoice_id": "i-1", "listing_fee": "40", "expected_fee": "35",
                                           "fee_difference": "5", "matches_contract": False}]},
          **events(invoices=[{"invoice_id": "i-2", "net_invoiced": "1200.00", "disbursed": "-1000.00"}])}
    assert top(imported("settlement-recon", "OPEN_BALANCE", evidence=ev)) is C.SHORT_PAYMENT


def test_refund_request_named_by_the_exception() -> None:
    ev = {"get_invoices_and_credits": {"invoices": [], "credit_notes": [], "refund_requests": [
        {"request_id": "RR-1", "amount": "1200.00", "status": "approved", "currency": "USD"}]}}
    case = imported(evidence=ev, record_refs={"refund_requests": ["RR-1"]}, observed_amount="0", delta_amount="-1200")
    assert top(case) is C.REFUND_DISCREPANCY


def test_tax_party_rows_against_the_contract() -> None:
    ev = {**events(event("be-3", "INVOICED", "SELLER_TAX_SHARE", "200.00")),
          "get_contract_terms": {"contracts": [{"contract_key": "CT-1", "tax_party": "aws", "rates": []}]}}
    assert top(imported(evidence=ev, record_refs={"billing_events": ["be-3"]})) is C.TAX_DISCREPANCY


def test_unidentified_cash_is_other_and_investigated_internally(backend: OfflineBackend) -> None:
    ev = {"get_payments_and_disbursements": {"payments": [
        {"payment_id": "PAY-1", "account_key": None, "amount": "1000.00", "invoice_number": None, "payer": "WIRE 88"}],
        "payouts": [], "invoice_balances": []}}
    case = imported("bank-match", "UNIDENTIFIED_DEPOSIT", evidence=ev, channel="direct", expected_amount="0",
                    delta_amount="1000.00", record_refs={"payments": ["PAY-1"]})
    result = backend.classify(case).value
    assert result.category is C.OTHER
    assert (result.action, result.escalate_to) == (Action.INVESTIGATE, EscalateTo.INTERNAL)


def test_usage_shortfall_with_refused_records_is_rejected_metering() -> None:
    ev = {"get_usage_summary": USAGE_TOTALS, "get_agreement_state": ACTIVE, "get_metering_results": {"status_counts": [
        {"product_code": "p1", "dimension": "api_calls", "status": "CustomerNotSubscribed", "records": 16, "quantity": "200"}]}}
    case = imported("usage-recon", "QTY_VARIANCE", evidence=ev, product_code="p1", dimension_key="api_calls",
                    delta_quantity="-200")
    assert top(case) is C.REJECTED_METERING


def test_usage_shortfall_without_other_signal_is_dropped_metering() -> None:
    ev = {"get_usage_summary": USAGE_TOTALS, "get_agreement_state": ACTIVE, "get_metering_results": {"status_counts": []}}
    case = imported(evidence=ev, product_code="p1", dimension_key="api_calls", delta_quantity="-200")
    assert top(case) is C.DROPPED_METERING


def test_usage_counted_across_midnight_is_timing() -> None:
    summary = {"totals": [{"product_code": "p1", "dimension_key": "api_calls", "ours": "1000", "partner": "1099",
                           "difference": "99"}],
               "daily": [{"product_code": "p1", "dimension_key": "api_calls", "usage_date": "2026-07-31",
                          "ours": "300", "partner": "201", "difference": "-99"},
                         {"product_code": "p1", "dimension_key": "api_calls", "usage_date": "2026-08-01",
                          "ours": "100", "partner": "199", "difference": "99"}], "ours_hourly": []}
    case = imported(evidence={"get_usage_summary": summary, "get_agreement_state": ACTIVE}, product_code="p1",
                    dimension_key="api_calls", delta_quantity="99")
    assert top(case) is C.TIMING_DIFFERENCE


@pytest.mark.parametrize(("day", "expected"), [("2026-07-31", C.TIMING_DIFFERENCE), ("2026-07-29", C.DROPPED_METERING)])
def test_only_the_periods_own_last_day_is_its_edge(day: str, expected: Category) -> None:
    # The partner lacks 120 units, all on `day`, within our usage of that day's hours: on the
    # month's last day a record may sit on the wrong side of midnight; on the 29th of July the
    # hours are simply missing.
    summary = {"totals": [{"product_code": "p1", "dimension_key": "api_calls", "ours": "1000", "partner": "880",
                           "difference": "-120"}],
               "daily": [{"product_code": "p1", "dimension_key": "api_calls", "usage_date": day,
                          "ours": "150", "partner": "30", "difference": "-120"}],
               "ours_hourly": [{"product_code": "p1", "dimension_key": "api_calls", "usage_hour": f"{day}T{h:02d}:00:00Z",
                                "quantity": "25"} for h in range(18, 24)]}
    case = imported(evidence={"get_usage_summary": summary, "get_agreement_state": ACTIVE}, product_code="p1",
                    dimension_key="api_calls", delta_quantity="-120", period="2026-07")
    assert top(case) is expected


def test_nothing_supported_stays_other_with_low_confidence(backend: OfflineBackend) -> None:
    result = backend.classify(imported("ops-import", "VARIANCE")).value
    assert result.category is C.OTHER
    assert result.confidence <= 0.5


def test_a_name_alone_is_only_a_weak_guess() -> None:
    hyps = diagnose(Facts(imported("refund-audit", "UNAPPROVED_REFUND")))
    assert hyps[0].category is C.REFUND_DISCREPANCY and hyps[0].score < 0.5


def test_inferred_rationale_states_only_evidence_figures(backend: OfflineBackend) -> None:
    ev = events(event("be-1", "INVOICED", "SELLER_REV_SHARE", "1200"), event("be-2", "FORGIVEN", "SELLER_REV_SHARE", "-1200"))
    result = backend.classify(imported(evidence=ev, observed_amount="0", delta_amount="-1200")).value
    assert "be-2" in result.rationale and "FORGIVEN" in result.rationale


def test_known_rules_do_not_use_the_inference(backend: OfflineBackend) -> None:
    # The same forgiven rows under our own rule for short disbursements: its own steps decide.
    ev = events(event("be-2", "FORGIVEN", "SELLER_REV_SHARE", "-1200"))
    case = imported("disbursed_vs_invoiced", "short_disbursed", evidence=ev)
    assert top(case) is C.SHORT_PAYMENT


def test_candidates_of_another_tools_rule_are_its_hints_then_other() -> None:
    from agent.taxonomy import candidate_categories

    assert candidate_categories("refund-audit", "UNAPPROVED_REFUND") == (C.REFUND_DISCREPANCY, C.OTHER)
    assert candidate_categories("legacy-recon", "EXCEPTION") == (C.OTHER,)
    # Our rules keep their table entries, whatever their words say.
    assert candidate_categories("usage_vs_partner_usage", "usage_excess")[0] is C.DUPLICATE_METERING


def test_a_usage_difference_without_a_dimension_is_read_on_the_one_that_differs() -> None:
    ev = {"get_usage_summary": USAGE_TOTALS, "get_agreement_state": ACTIVE, "get_metering_results": {"status_counts": [
        {"product_code": "p1", "dimension": "api_calls", "status": "Unprocessed", "records": 2, "quantity": "200"}]}}
    assert top(imported(evidence=ev, product_code="p1", delta_quantity="-200")) is C.DROPPED_METERING


def direct_balance(paid: str, due: str, received: str) -> dict[str, Any]:
    return {"get_invoices_and_credits": {"invoices": [{"invoice_number": "INV-9", "channel": "direct"}],
                                         "credit_notes": [], "refund_requests": []},
            "get_payments_and_disbursements": {
                "payments": [{"payment_id": "PAY-7", "account_key": "A-1", "amount": "5", "invoice_number": "INV-8",
                              "received_date": received}],
                "payouts": [], "invoice_balances": [{"invoice_number": "INV-9", "currency": "USD", "total": "1200.00",
                                                     "paid": paid, "outstanding": "1200.00", "due_date": due}]}}


def test_an_open_direct_invoice_is_a_short_payment_only_once_past_due_or_part_paid() -> None:
    fields = {"channel": "direct", "expected_amount": "1200.00", "observed_amount": "0", "delta_amount": "-1200.00"}
    past_due = diagnose(Facts(imported(evidence=direct_balance("0", "2026-09-30", "2026-10-20"), **fields)))
    assert past_due[0].category is C.SHORT_PAYMENT and past_due[0].score >= 0.8
    # Not yet due (or rejected, disputed): the balance alone is weak support.
    not_due = diagnose(Facts(imported(evidence=direct_balance("0", "2026-10-30", "2026-10-20"), **fields)))
    assert not_due[0].score < 0.6


class _Votes:
    """An embedder stub: every text gets the same vector, so every library case is a neighbour."""

    def __call__(self, texts: list[str]) -> list[list[float]]:
        return [[1.0] + [0.0] * 383 for _ in texts]


def test_unknown_rules_use_their_own_map_and_no_neighbour_votes() -> None:
    from agent.llm.offline.library import LibraryCase

    library = [LibraryCase(case_id=f"l{i}", text="t", category="tax_discrepancy", action="investigate",
                           escalate_to="internal", source="generated:9001") for i in range(5)]
    known_map, imported_map = Calibrator((0.0, 1.0), (0.9, 0.9)), Calibrator((0.0, 1.0), (0.2, 0.2))
    backend = OfflineBackend(library_cases=library, embed=_Votes(), calibrator=known_map,
                             imported_calibrator=imported_map)
    ev = events(event("be-1", "INVOICED", "SELLER_REV_SHARE", "1200"), event("be-2", "FORGIVEN", "SELLER_REV_SHARE", "-1200"))
    case = imported(evidence=ev, observed_amount="0", delta_amount="-1200")
    ranked, votes, _raw = backend.score(case)
    assert not votes and ranked[0].category is C.FORGIVEN_CHARGE
    assert backend.classify(case).value.confidence == 0.2
    # Our own rule: the neighbours vote and the known-rule map applies.
    ours = imported("forgiven_charges", "charge_forgiven", evidence=ev)
    assert backend.score(ours)[1] and backend.classify(ours).value.confidence == 0.9


def test_the_shipped_unknown_rule_map_is_fitted_and_monotone() -> None:
    from agent.llm.offline.backend import IMPORTED_CALIBRATION_PATH

    cal = Calibrator.load(IMPORTED_CALIBRATION_PATH)
    assert cal.fitted_on > 0 and list(cal.ys) == sorted(cal.ys)
    assert cal(0.3) < 0.5  # nothing supported: a person decides


def test_another_products_lapsed_agreement_does_not_decide_this_usage() -> None:
    agreements = {"agreements": [], "contracts": [
        {"contract_key": "CT-1", "agreement_id": "agmt-1", "agreement_status": "ACTIVE", "covers_period": True},
        {"contract_key": "CT-2", "agreement_id": "agmt-2", "agreement_status": "CANCELLED", "covers_period": False}]}
    terms = {"contracts": [{"contract_key": "CT-1", "product_code": "p1", "rates": []},
                           {"contract_key": "CT-2", "product_code": "p2", "rates": []}]}
    ev = {"get_usage_summary": USAGE_TOTALS, "get_agreement_state": agreements, "get_contract_terms": terms,
          "get_metering_results": {"status_counts": []}}
    case = imported(evidence=ev, product_code="p1", dimension_key="api_calls", delta_quantity="-200")
    assert top(case) is C.DROPPED_METERING


def test_amounts_stated_in_another_currency_are_matched_at_the_evidence_rates() -> None:
    forgiven_eur = event("be-2", "FORGIVEN", "SELLER_REV_SHARE", "-1000.00", currency="EUR")
    ev = events(forgiven_eur, fx_rates=[{"rate_date": "2026-09-10", "currency": "EUR", "usd_per_unit": "1.09"}])
    # The other tool reconciles in USD: 1000 EUR at about 1.09.
    usd = imported(evidence=ev, expected_amount="1091.50", observed_amount="0", delta_amount="-1091.50")
    assert top(usd) is C.FORGIVEN_CHARGE
    assert diagnose(Facts(usd))[0].score >= 0.9
    # A record in the exception's own currency is never matched through a rate.
    same = events(event("be-2", "FORGIVEN", "SELLER_REV_SHARE", "-917.43"),
                  fx_rates=[{"rate_date": "2026-09-10", "currency": "EUR", "usd_per_unit": "1.09"}])
    assert diagnose(Facts(imported(evidence=same, expected_amount="1000", observed_amount="0",
                                   delta_amount="-1000")))[0].score < 0.9


# -- what the other tool recorded of an answer: a marketplace's refusal, a customer's rejection ---------------

PRICED_USAGE = {
    "get_usage_summary": {"totals": [{"product_code": "p1", "dimension_key": "api_calls", "ours": "4000",
                                      "partner": None, "difference": None}], "daily": [], "ours_hourly": []},
    "get_contract_terms": {"contracts": [{"contract_key": "CT-1", "product_code": "p1", "currency": "USD",
                                          "rates": [{"dimension_key": "api_calls", "unit_price": "0.30"}]}]},
    "get_agreement_state": ACTIVE,
}
USAGE_FIELDS = {"product_code": "p1", "dimension_key": "api_calls", "expected_amount": "1200.00",
                "observed_amount": "0", "delta_amount": "-1200.00", "delta_quantity": "-4000"}


def test_usage_worth_the_amount_and_nothing_invoiced_is_a_missing_invoice() -> None:
    assert top(imported("billing-audit", "UNBILLED", evidence=PRICED_USAGE, **USAGE_FIELDS)) is C.MISSING_INVOICE


def test_an_amount_billed_above_the_usage_is_never_a_missing_invoice() -> None:
    # The other tool saw 1,250 billed against usage worth 1,200: the invoice exists, whatever the 50 is.
    case = imported("revassure", "BILLED_ABOVE_CONTRACT", evidence=PRICED_USAGE,
                    **{**USAGE_FIELDS, "observed_amount": "1250.00", "delta_amount": "50.00", "delta_quantity": None})
    assert C.MISSING_INVOICE not in {h.category for h in diagnose(Facts(case))}


@pytest.mark.parametrize("details", [
    # Azure's metering API, as a usage log exports it
    {"http_status": 400, "error_code": "BadArgument", "events_rejected": 624,
     "message": "Dimension 'api_calls' is not defined in plan 'enterprise-2026'."},
    # AWS BatchMeterUsage, as another pipeline monitor reports it
    {"status": "CustomerNotSubscribed", "records_refused": "31"},
    {"error": "TimestampOutOfBoundsException", "rejected_count": 12},
])
def test_a_refusal_recorded_by_the_other_tool_is_rejected_metering(details: dict[str, Any],
                                                                   backend: OfflineBackend) -> None:
    case = imported("metering-monitor", "EVENTS_FAILED", evidence=PRICED_USAGE, details=details, **USAGE_FIELDS)
    ranked = diagnose(Facts(case))
    assert ranked[0].category is C.REJECTED_METERING
    # Refused usage is neither lost on our side nor merely uninvoiced: those are its consequences.
    assert not {C.MISSING_INVOICE, C.DROPPED_METERING} & {h.category for h in ranked}
    decision = backend.classify(case).value
    assert (decision.action, decision.escalate_to) == (Action.FIX_METERING_MAPPING, EscalateTo.INTERNAL)


@pytest.mark.parametrize("details", [
    {"http_status": 409, "error_code": "Conflict", "events_rejected": 3, "message": "Duplicate"},
    {"http_status": 200, "note": "all accepted"},
    {"events_rejected": 0},
    {"status": "EXPIRED", "agreement_id": "agmt-1"},  # an agreement's state, not a metering answer
])
def test_no_refusal_without_a_refusal(details: dict[str, Any]) -> None:
    case = imported("metering-monitor", "EVENTS", evidence=PRICED_USAGE, details=details, **USAGE_FIELDS)
    assert C.REJECTED_METERING not in {h.category for h in diagnose(Facts(case))}


def rejected_invoice(paid: str, **details: Any) -> CaseInput:
    return imported("ap-portal", "INVOICE_REJECTED", evidence=direct_balance(paid, "2026-10-30", "2026-10-02"),
                    channel="direct", expected_amount="1200.00", observed_amount="0", delta_amount="-1200.00",
                    record_refs={"invoices": ["INV-9"]}, details=details)


def test_an_invoice_the_customer_rejected_is_reissued_by_a_person(backend: OfflineBackend) -> None:
    case = rejected_invoice("0", rejection_reason="Purchase order number missing", po_required="4500187723")
    decision = backend.classify(case).value
    assert decision.category is C.OTHER
    assert (decision.action, decision.escalate_to) == (Action.REBILL, EscalateTo.CUSTOMER)
    assert "Purchase order number missing" in decision.rationale
    draft = backend.draft(case, decision).value
    assert draft.kind == "email" and "a other" not in draft.body
    assert "reissue the invoice above for the period with purchase order 4500187723" in draft.body
    # Without a purchase order in the details, the email asks what else their AP team needs.
    plain = rejected_invoice("0", rejection_reason="Wrong billing address")
    assert "anything else on it (a purchase order number" in backend.draft(plain, backend.classify(plain).value).value.body


def test_a_bounced_payment_is_not_a_rejected_invoice() -> None:
    case = rejected_invoice("0", payment_rejection_reason="Insufficient funds")
    assert C.OTHER not in {h.category for h in diagnose(Facts(case)) if h.score >= 0.6}


def test_a_rejection_does_not_hide_a_part_payment() -> None:
    case = rejected_invoice("700.00", reject_reason="Quantity disputed on line 2")
    assert C.OTHER not in {h.category for h in diagnose(Facts(case)) if h.score >= 0.6}


def test_a_case_outside_the_taxonomy_with_nobody_outside_to_ask_is_investigated_internally(
        backend: OfflineBackend) -> None:
    # A marketplace row no runbook explains (no receipt, so no customer who paid it): ours to find out first.
    ev = events(event("be-5", "INVOICED", "BALANCE_ADJUSTMENT", "-4820.00"))
    decision = backend.classify(imported("billed-revenue-check", "UNEXPLAINED_ROW", evidence=ev,
                                         record_refs={"billing_events": ["be-5"]})).value
    assert decision.category is C.OTHER
    assert (decision.action, decision.escalate_to) == (Action.INVESTIGATE, EscalateTo.INTERNAL)


def test_cash_from_a_known_customer_that_names_no_invoice_is_asked_of_the_customer(backend: OfflineBackend) -> None:
    ev = {"get_payments_and_disbursements": {"payments": [
        {"payment_id": "PAY-2", "account_key": "A-1", "amount": "999.00", "invoice_number": None, "payer": "ACME"}],
        "payouts": [], "invoice_balances": []}}
    case = imported("bank-match", "UNMATCHED_RECEIPT", evidence=ev, channel="direct", expected_amount="0",
                    observed_amount="999.00", delta_amount="999.00", record_refs={"payments": ["PAY-2"]})
    decision = backend.classify(case).value
    assert decision.category is C.OTHER
    assert decision.escalate_to is EscalateTo.CUSTOMER


# -- usage after the agreement ended: the entitlement runbook's symptom ------------------------------------------


def lapsed(refused_from: str, *, product: str = "p1") -> dict[str, Any]:
    """A product-level money difference of another tool: the contract's agreement expired on the
    13th at 07:00, and the marketplace refused the product's metering from `refused_from`."""
    return {
        "get_agreement_state": {
            "agreements": [{"agreement_id": "agmt-1", "status": "EXPIRED", "start_time": "2026-04-20T00:00:00Z",
                            "end_time": "2026-08-13T07:00:00Z", "preceding_agreement_id": None}],
            "contracts": [{"contract_key": "CT-1", "agreement_id": "agmt-1", "agreement_status": "EXPIRED",
                           "covers_period": False}]},
        "get_contract_terms": {"contracts": [{"contract_key": "CT-1", "product_code": "p1", "rates": []}]},
        "get_metering_results": {"status_counts": [
            {"product_code": product, "dimension": "api_calls", "status": "Success", "records": 290, "quantity": "900",
             "first_timestamp": "2026-08-01T00:00:00Z", "last_timestamp": "2026-08-13T06:00:00Z"},
            {"product_code": product, "dimension": "api_calls", "status": "CustomerNotSubscribed", "records": 449,
             "quantity": "1026", "first_timestamp": refused_from, "last_timestamp": "2026-08-31T23:00:00Z"}]},
    }


def billed_without_agreement(evidence: dict[str, Any]) -> CaseInput:
    return imported("entitlement-sync", "EXCEPTION", evidence=evidence, product_code="p1",
                    expected_amount="0", observed_amount="640.50", delta_amount="640.50")


def test_metering_refused_from_the_moment_the_agreement_ended_is_an_entitlement_mismatch() -> None:
    hyps = diagnose(Facts(billed_without_agreement(lapsed("2026-08-13T07:00:00Z"))))
    assert hyps[0].category is C.ENTITLEMENT_MISMATCH
    assert hyps[0].score >= 0.9
    assert "after agreement agmt-1 ended at 2026-08-13T07:00:00Z" in hyps[0].reasons[0]


def test_refusals_that_began_before_the_agreement_ended_are_not_read_as_its_end() -> None:
    hyps = diagnose(Facts(billed_without_agreement(lapsed("2026-08-10T02:00:00Z"))))
    assert all(h.category is not C.ENTITLEMENT_MISMATCH or h.score < 0.6 for h in hyps)


def test_another_products_refusals_do_not_show_this_products_agreement_ended() -> None:
    hyps = diagnose(Facts(billed_without_agreement(lapsed("2026-08-13T07:00:00Z", product="p2"))))
    assert all(h.category is not C.ENTITLEMENT_MISMATCH or h.score < 0.6 for h in hyps)


def test_a_fee_that_keeps_to_the_contract_is_reported_against_the_schedule() -> None:
    fee = {"check_listing_fee": {"lines": [{
        "invoice_id": "8721654993", "currency": "USD", "observed_rate": "0.030005", "contracted_rate": "0.03",
        "schedule_rate": "0.02", "matches_contract": True, "matches_schedule": False, "listing_fee": "12.45",
        "expected_fee": "12.45", "fee_difference": "0"}]}}
    hyps = diagnose(Facts(imported(evidence=fee)))
    fee_hyp = next(h for h in hyps if h.category is C.LISTING_FEE_MISMATCH)
    assert fee_hyp.reasons == ["invoice 8721654993: listing fee rate 0.030005 against 0.02 in AWS's fee schedule"]
