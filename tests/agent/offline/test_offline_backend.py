"""The offline backend tells look-alike causes apart from the evidence, for every rule family.

Small hand-built cases: the exception as reconciliation states it (rule, kind, details), and
the few evidence facts that separate the causes (DOMAIN.md, "evidence that tells it apart").
"""

from __future__ import annotations

from typing import Any

import pytest

from agent.llm.base import CaseInput, SopPassage
from agent.llm.offline import OfflineBackend
from agent.llm.offline.signals import Facts
from agent.schemas import Action, Category, EscalateTo


def case(rule: str, kind: str, details: dict[str, Any] | None = None, evidence: dict[str, Any] | None = None,
         **fields: Any) -> CaseInput:
    exc = {"rule": rule, "kind": kind, "channel": "aws_marketplace", "currency": "USD", "period": "2026-10",
           "expected_amount": "1200.00", "observed_amount": "1000.00", "delta_amount": "-200.00",
           "details": details or {}, "record_refs": {"billing_events": ["be-1", "be-2"]}, **fields}
    return CaseInput(case_id="c1", exception=exc, evidence=evidence or {},
                     sop_passages=[SopPassage(chunk_id="sop-x#1", sop_id="x", version="1", heading="h", text="t",
                                              categories=[Category.SHORT_PAYMENT.value])])


@pytest.fixture(scope="module")
def backend() -> OfflineBackend:
    return OfflineBackend(library_cases=[])


SHORTFALL = {"our_quantity": "1000", "partner_quantity": "800",
             "account_product_total": {"ours": "1000", "partner": "800", "agrees": False},
             "boundary": {"our_last_hours_quantity": "0", "partner_next_day_surplus": "0"}}


@pytest.mark.parametrize(
    ("rule", "kind", "details", "evidence", "fields", "expected"),
    [
        ("usage_vs_partner_usage", "usage_shortfall", SHORTFALL, {}, {"delta_quantity": "-200"}, Category.DROPPED_METERING),
        ("usage_vs_partner_usage", "usage_shortfall",
         {**SHORTFALL, "account_product_total": {"ours": "3000", "partner": "3000", "agrees": True}}, {},
         {"delta_quantity": "-200"}, Category.WRONG_DIMENSION),
        ("usage_vs_partner_usage", "usage_shortfall",
         {**SHORTFALL, "boundary": {"our_last_hours_quantity": "200", "partner_next_day_surplus": "200"}}, {},
         {"delta_quantity": "-200"}, Category.TIMING_DIFFERENCE),
        ("usage_vs_partner_usage", "usage_excess",
         {"our_quantity": "800", "partner_quantity": "1000", "account_product_total": {"agrees": False}},
         {"get_metering_results": {"statuses": ["DuplicateRecord"]}}, {"delta_quantity": "200"},
         Category.DUPLICATE_METERING),
        ("metering_not_accepted", "metering_customer_not_subscribed", {"status": "CustomerNotSubscribed", "records": 12},
         {}, {}, Category.REJECTED_METERING),
        ("metering_not_accepted", "metering_unprocessed", {"status": "Unprocessed", "records": 3}, {}, {},
         Category.DROPPED_METERING),
        ("metering_not_accepted", "metering_duplicate_record",
         {"status": "DuplicateRecord", "records": 4, "hours_accepted_with_other_quantity": 4}, {}, {},
         Category.DUPLICATE_METERING),
        ("billed_rate_vs_contract", "rate_mismatch", {}, {}, {}, Category.PRICE_MISMATCH),
        ("usage_without_agreement", "usage_without_active_agreement", {}, {}, {}, Category.ENTITLEMENT_MISMATCH),
        ("usage_without_invoice", "not_invoiced", {}, {}, {}, Category.MISSING_INVOICE),
        ("channel_overlap", "billed_in_two_channels", {}, {}, {}, Category.CHANNEL_CONFLICT),
        ("listing_fee_vs_contract", "listing_fee_rate_mismatch", {}, {}, {}, Category.LISTING_FEE_MISMATCH),
        ("disbursed_vs_invoiced", "short_disbursed", {"invoiced_net": "1200", "disbursed": "1000"}, {}, {},
         Category.SHORT_PAYMENT),
        ("disbursed_vs_invoiced", "short_disbursed", {"invoiced_net": "1200", "disbursed": "1000"},
         {"get_partner_billing_events": [{"transaction_type": "DISBURSEMENT_FAILURE"}]}, {},
         Category.DISBURSEMENT_FAILURE),
        ("forgiven_charges", "charge_forgiven", {}, {}, {}, Category.FORGIVEN_CHARGE),
        ("disbursement_integrity", "disbursement_failed", {}, {}, {}, Category.DISBURSEMENT_FAILURE),
        ("refunds_vs_approvals", "refund_without_approval", {}, {}, {}, Category.REFUND_DISCREPANCY),
        ("credits_vs_credit_notes", "credit_mismatch", {}, {}, {}, Category.CREDIT_MISAPPLIED),
        ("fx_conversion", "fx_difference", {}, {}, {}, Category.FX_VARIANCE),
        ("tax_treatment", "tax_party_mismatch", {}, {}, {}, Category.TAX_DISCREPANCY),
        ("reseller_wholesale", "wholesale_price_mismatch", {}, {}, {}, Category.RESELLER_MARGIN_MISMATCH),
        ("direct_payments", "short_paid", {}, {}, {"channel": "direct"}, Category.SHORT_PAYMENT),
    ],
)
def test_category_per_rule(backend: OfflineBackend, rule, kind, details, evidence, fields, expected) -> None:
    result = backend.classify(case(rule, kind, details, evidence, **fields))
    assert result.value.category is expected, result.value.rationale
    assert 0.0 <= result.value.confidence <= 1.0
    assert result.usage.llm_calls == 0


COLLECTED_AWAITING_PAYOUT = {"get_partner_billing_events": {"events": [
    {"billing_event_id": "be-1", "transaction_type": "SELLER_REV_SHARE", "action": "COLLECTED"}]}}


def test_money_collected_and_waiting_for_the_next_payout_is_timing_not_a_short_payment(
        backend: OfflineBackend) -> None:
    undisbursed = case("disbursed_vs_invoiced", "undisbursed", {"invoiced_net": "1200", "disbursed": "0"},
                       COLLECTED_AWAITING_PAYOUT)
    result = backend.classify(undisbursed).value
    assert result.category is Category.TIMING_DIFFERENCE, result.rationale
    # Far enough ahead that neighbours voting "short payment" do not turn it around.
    hyps, _, _ = backend.score(undisbursed)
    short = next(h for h in hyps if h.category is Category.SHORT_PAYMENT)
    assert short.score <= 0.5
    # Nothing collected: nothing is on its way, it is a short payment.
    nothing = case("disbursed_vs_invoiced", "undisbursed", {"invoiced_net": "1200", "disbursed": "0"})
    assert backend.classify(nothing).value.category is Category.SHORT_PAYMENT


def returned_payout(reversed_payout: str) -> dict[str, Any]:
    """The case's invoice INV-9 paid out in payout po-1, and a DISBURSEMENT_FAILURE reversing `reversed_payout`."""
    return {"get_partner_billing_events": {"events": [
        {"billing_event_id": "be-1", "transaction_type": "SELLER_REV_SHARE", "action": "INVOICED", "invoice_id": "INV-9",
         "amount": "1200"},
        {"billing_event_id": "be-2", "transaction_type": "SELLER_REV_SHARE", "action": "DISBURSED", "invoice_id": "INV-9",
         "amount": "-1200", "parent_billing_event_id": "be-1", "disbursement_billing_event_id": "po-1"},
        {"billing_event_id": "po-1", "transaction_type": "DISBURSEMENT", "action": "DISBURSED", "amount": "-1200"},
        {"billing_event_id": "po-2", "transaction_type": "DISBURSEMENT", "action": "DISBURSED", "amount": "-80"},
        {"billing_event_id": "fail-1", "transaction_type": "DISBURSEMENT_FAILURE", "action": "DISBURSED",
         "amount": "1200", "currency": "USD", "parent_billing_event_id": reversed_payout,
         "disbursement_billing_event_id": reversed_payout}]}}


def test_the_payout_of_the_case_returned_by_the_bank_is_a_disbursement_failure_not_a_short_payment(
        backend: OfflineBackend) -> None:
    details = {"invoiced_net": "1200", "disbursed": "0", "invoice_ids": ["INV-9"], "payout_ids": []}
    undisbursed = case("disbursed_vs_invoiced", "undisbursed", details, returned_payout("po-1"))
    hyps, _, _ = backend.score(undisbursed)
    assert hyps[0].category is Category.DISBURSEMENT_FAILURE
    assert hyps[0].reasons == ["payout po-1, which carried invoice(s) INV-9, came back (DISBURSEMENT_FAILURE fail-1 "
                               "of 1200 USD)"]
    # Far enough ahead that neighbours voting "short payment" do not turn it around.
    assert next(h for h in hyps if h.category is Category.SHORT_PAYMENT).score <= 0.5
    # Another payout of the account came back: it does not explain this invoice's money.
    elsewhere = backend.score(case("disbursed_vs_invoiced", "undisbursed", details, returned_payout("po-2")))[0]
    assert next(h for h in elsewhere if h.category is Category.SHORT_PAYMENT).score == 0.82


def test_direct_short_payment_goes_to_the_customer(backend: OfflineBackend) -> None:
    result = backend.classify(case("direct_payments", "short_paid", channel="direct")).value
    assert (result.action, result.escalate_to) == (Action.CHASE_PAYMENT, EscalateTo.CUSTOMER)


def test_a_direct_invoice_never_issued_is_sent_to_the_customer_with_the_delay_noted(backend: OfflineBackend) -> None:
    """The missing invoice runbook: generate it and send it, noting the delay in the cover email;
    a marketplace's missing invoice is still the partner's to raise."""
    direct = case("usage_without_invoice", "not_invoiced", channel="direct", record_refs={"contracts": ["C-9"]})
    decision = backend.classify(direct).value
    assert (decision.category, decision.action, decision.escalate_to) == (
        Category.MISSING_INVOICE, Action.REBILL, EscalateTo.CUSTOMER)
    email = backend.draft(direct, decision).value
    assert email.kind == "email" and "apologise for the delay" in email.body and "reissue" not in email.body
    marketplace = backend.classify(case("usage_without_invoice", "not_invoiced")).value
    assert (marketplace.action, marketplace.escalate_to) == (Action.REQUEST_PARTNER_CORRECTION, EscalateTo.PARTNER)


def test_a_close_runner_up_lowers_confidence(backend: OfflineBackend) -> None:
    clear = backend.classify(case("listing_fee_vs_contract", "listing_fee_rate_mismatch")).value
    ambiguous = backend.classify(case("metering_not_accepted", "metering_duplicate_record",
                                      {"status": "DuplicateRecord", "records": 4})).value
    assert ambiguous.confidence < clear.confidence


def test_partner_email_draft_uses_only_evidence(backend: OfflineBackend) -> None:
    c = case("listing_fee_vs_contract", "listing_fee_rate_mismatch")
    decision = backend.classify(c).value
    draft = backend.draft(c, decision).value
    assert draft.kind == "email" and decision.escalate_to is EscalateTo.PARTNER
    assert "USD 200.00" in draft.body and "be-1" in draft.body and "2026-10" in draft.body
    assert draft.to.endswith("@partners.example")


def test_deterministic(backend: OfflineBackend) -> None:
    c = case("usage_vs_partner_usage", "usage_shortfall", SHORTFALL, delta_quantity="-200")
    assert backend.classify(c).value == backend.classify(c).value


def _agreement_state(contracts: list[dict[str, Any]], agreements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"get_agreement_state": {"contracts": contracts, "agreements": agreements}}


AMENDED_MID_PERIOD = [
    {"agreement_id": "agmt-old", "status": "SUPERSEDED", "start_time": "2026-01-01T00:00:00Z",
     "end_time": "2026-10-04T11:00:00Z", "preceding_agreement_id": None},
    {"agreement_id": "agmt-new", "status": "ACTIVE", "start_time": "2026-10-04T11:00:00Z",
     "end_time": None, "preceding_agreement_id": "agmt-old"},
]
NEW_CONTRACT = {"contract_key": "C-1-AMD1", "agreement_id": "agmt-new", "agreement_status": "ACTIVE",
                "covers_period": False}


def test_an_offer_amended_mid_period_is_no_gap_in_the_entitlement() -> None:
    from agent.llm.offline.signals import Facts

    amended = case("billed_rate_vs_contract", "rate_mismatch",
                   evidence=_agreement_state([NEW_CONTRACT], AMENDED_MID_PERIOD))
    assert Facts(amended).agreement_problem() == ""
    # The old agreement ended a day before the new one started: that day had no agreement.
    gap = [{**AMENDED_MID_PERIOD[0], "end_time": "2026-10-03T11:00:00Z"}, AMENDED_MID_PERIOD[1]]
    with_gap = case("billed_rate_vs_contract", "rate_mismatch", evidence=_agreement_state([NEW_CONTRACT], gap))
    assert "does not cover the period" in Facts(with_gap).agreement_problem()


def test_another_marketplaces_contract_without_an_aws_agreement_is_not_an_entitlement_gap() -> None:
    from agent.llm.offline.signals import Facts

    no_agreement = {"contract_key": "C-2", "agreement_id": None, "agreement_status": None, "covers_period": False}
    azure = case("azure_metering_reconciliation", "usage_events_rejected", channel="azure_marketplace",
                 evidence=_agreement_state([no_agreement], []))
    assert Facts(azure).agreement_problem() == ""
    aws = case("azure_metering_reconciliation", "usage_events_rejected", evidence=_agreement_state([no_agreement], []))
    assert "does not cover the period" in Facts(aws).agreement_problem()


def test_a_receipt_equal_to_open_invoices_is_cash_to_apply_to_them(backend: OfflineBackend) -> None:
    balances = {"get_payments_and_disbursements": {"payments": [], "payouts": [], "invoice_balances": [
        {"invoice_number": "INV-A", "currency": "USD", "outstanding": "4120.00"},
        {"invoice_number": "INV-B", "currency": "USD", "outstanding": "3330.00"},
        {"invoice_number": "INV-C", "currency": "USD", "outstanding": "0.00"},
        {"invoice_number": "INV-D", "currency": "EUR", "outstanding": "3330.00"},
    ]}}
    fields = {"channel": "direct", "expected_amount": "0", "observed_amount": "7450.00", "delta_amount": "7450.00"}
    receipt = case("direct_payments", "unapplied_cash", {"account_identified": True}, balances, **fields)
    hyps, _, _ = backend.score(receipt)
    assert hyps[0].category is Category.SHORT_PAYMENT and hyps[0].score >= 0.85
    assert "INV-A + INV-B" in hyps[0].reasons[0]
    # The customer has paid: we apply the cash; nobody is chased.
    decision = backend.classify(receipt).value
    assert (decision.action, decision.escalate_to) == (Action.INVESTIGATE, EscalateTo.INTERNAL)
    # No combination of open balances makes the receipt: the customer's intent is unknown.
    odd = case("direct_payments", "unapplied_cash", {"account_identified": True}, balances,
               **{**fields, "observed_amount": "7000.00", "delta_amount": "7000.00"})
    assert backend.score(odd)[0][0].score < 0.85


MISSING_HOURS = {"missing_hours": 3, "hours_answered_otherwise": 3, "first_hour": "2026-10-20T23:00:00Z",
                 "last_hour": "2026-10-21T01:00:00Z"}
UNPROCESSED = {"status_counts": [{"dimension": "calls", "status": "Unprocessed", "records": 3, "quantity": "300"}]}


@pytest.mark.parametrize(("channel", "seen", "action"), [
    ("aws_marketplace", "2026-10-21T03:05:00Z", Action.RESEND_METERING),   # 4 h after the oldest hour: AWS takes 6 h
    ("aws_marketplace", "2026-10-21T05:00:00Z", Action.WRITE_OFF),         # exactly 6 h: refused; small, written off
    ("azure_marketplace", "2026-10-21T20:00:00Z", Action.RESEND_METERING),  # Azure takes 24 h
    ("gcp_marketplace", "2026-10-21T03:05:00Z", Action.WRITE_OFF),          # Google Cloud: 1 h
])
def test_dropped_hours_are_resent_while_the_marketplace_still_takes_them(
        backend: OfflineBackend, channel: str, seen: str, action: Action) -> None:
    evidence = {"get_exception": {"last_seen_at": seen}, "get_metering_results": UNPROCESSED}
    dropped = case("metering_gaps", "metering_missing_hours", MISSING_HOURS, evidence, channel=channel,
                   dimension_key="calls", expected_amount="8.91", observed_amount="0", delta_amount="-8.91")
    decision = backend.classify(dropped).value
    assert decision.category is Category.DROPPED_METERING
    assert decision.action is action


def test_an_imported_exception_dates_its_oldest_hour_by_the_records_not_accepted(backend: OfflineBackend) -> None:
    rows = [{"dimension": "calls", "status": s, "timestamp": t} for s, t in
            [("Success", "2026-10-20T20:00:00Z"), ("Unprocessed", "2026-10-21T00:00:00Z"),
             ("Unprocessed", "2026-10-21T01:00:00Z")]]
    evidence = {"get_exception": {"last_seen_at": "2026-10-21T04:00:00Z"},
                "get_metering_results": {**UNPROCESSED, "results": rows}}
    imported = case("pipeline-monitor", "HOURS_NOT_ACCEPTED", {}, evidence, dimension_key="calls")
    assert Facts(imported).metering_window_open()
    late = {**evidence, "get_exception": {"last_seen_at": "2026-10-21T06:30:00Z"}}
    assert not Facts(case("pipeline-monitor", "HOURS_NOT_ACCEPTED", {}, late, dimension_key="calls")).metering_window_open()


def short_receipt(shortfall: str, note: str | None) -> CaseInput:
    paid = str(1000 - float(shortfall))
    payments = {"payments": [{"payment_id": "PAY-1", "invoice_number": "INV-7", "amount": paid, "currency": "USD",
                              "remittance_note": note}], "payouts": [], "invoice_balances": []}
    return case("direct_payments", "short_paid", {"invoice_total": "1000.00", "days_past_due": 10},
                {"get_payments_and_disbursements": payments}, channel="direct", expected_amount="1000.00",
                observed_amount=paid, delta_amount=f"-{shortfall}",
                record_refs={"invoices": ["INV-7"], "payments": ["PAY-1"]})


@pytest.mark.parametrize(("shortfall", "note", "action"), [
    ("25", "INV-7 /CHGS/USD25,00 DEDUCTED BY INTERMEDIARY BANK", Action.WRITE_OFF),
    ("18.50", "inv-7 less bank charges", Action.WRITE_OFF),
    ("75", "INV-7 /CHGS/USD75,00", Action.CHASE_PAYMENT),   # over the USD 50 tolerance: chased
    ("25", "INV-7 less 2.5% early payment discount", Action.CHASE_PAYMENT),  # not a bank's charge
    ("25", None, Action.CHASE_PAYMENT),
])
def test_a_small_shortfall_the_remittance_puts_on_bank_charges_is_written_off(
        backend: OfflineBackend, shortfall: str, note: str | None, action: Action) -> None:
    decision = backend.classify(short_receipt(shortfall, note)).value
    assert decision.category is Category.SHORT_PAYMENT
    assert decision.action is action
    assert decision.escalate_to is (EscalateTo.INTERNAL if action is Action.WRITE_OFF else EscalateTo.CUSTOMER)


@pytest.mark.parametrize(("stake_usd", "action"), [
    ("11.94", Action.WRITE_OFF),   # GBP 8.98 at the period-end rate: under the USD 250 write-off line
    ("1204.50", Action.REBILL),    # material: billed under the contract
    (None, Action.REBILL),         # no rate to judge it by: never written off blind
])
def test_a_lost_amount_in_another_currency_is_judged_in_usd(backend: OfflineBackend, stake_usd: str | None,
                                                            action: Action) -> None:
    lost = case("metering_gaps", "metering_missing_hours", MISSING_HOURS, {"get_metering_results": UNPROCESSED},
                dimension_key="calls", currency="GBP", expected_amount="8.976379", observed_amount="0",
                delta_amount="-8.976379")
    decision = backend.classify(CaseInput.model_validate({**lost.model_dump(), "stake_usd": stake_usd})).value
    assert decision.category is Category.DROPPED_METERING
    assert decision.action is action


def test_an_email_reads_well_for_a_category_that_starts_with_a_vowel(backend: OfflineBackend) -> None:
    served = case("usage_without_agreement", "usage_without_active_agreement", {}, {})
    decision = backend.classify(served).value
    assert decision.category is Category.ENTITLEMENT_MISMATCH and decision.escalate_to is EscalateTo.CUSTOMER
    body = backend.draft(served, decision).value.body
    assert "we believe is an entitlement mismatch" in body and "is a entitlement" not in body


def test_an_email_names_each_kind_of_record_and_what_the_reconciliation_saw(backend: OfflineBackend) -> None:
    served = case("usage_without_agreement", "usage_without_active_agreement", {}, {},
                  description="Usage of 2026-10 after agreement agmt-1 ended: 240 units worth 200.00 USD.",
                  record_refs={"contracts": ["CT-1"], "partner_usage": [str(i) for i in range(1040, 1050)]})
    decision = backend.classify(served).value
    draft = backend.draft(served, decision).value
    assert "Usage of 2026-10 after agreement agmt-1 ended: 240 units worth 200.00 USD." in draft.body
    assert "- Contract: CT-1\n" in draft.body
    # At most eight ids in all; the exception names the rest.
    assert "- Partner usage rows: 1040, 1041, 1042, 1043, 1044, 1045, 1046 and more named by the exception" in draft.body
    assert "below" not in draft.body  # the records and the difference are above the ask
    # Every figure of the draft is in the evidence, the description's included.
    from agent.verify import collect_facts, verify
    from billing.settings import Settings
    assert verify(served, decision, draft, Settings(), collect_facts(served, Settings())).ok


def test_another_tools_description_stays_out_of_the_email(backend: OfflineBackend) -> None:
    imported = case("entitlement-sync", "NO_ACTIVE_SUBSCRIPTION", {}, {},
                    description="entitlement-sync NO_ACTIVE_SUBSCRIPTION: X 2026-10; expected 0.000000 USD")
    body = backend.draft(imported, backend.classify(imported).value).value.body
    assert "entitlement-sync NO_ACTIVE_SUBSCRIPTION" not in body


@pytest.mark.parametrize(("category", "phrase"), [
    (Category.DUPLICATE_METERING, "duplicate metering"), (Category.CREDIT_MISAPPLIED, "a misapplied credit"),
    (Category.FX_VARIANCE, "an FX variance"), (Category.ENTITLEMENT_MISMATCH, "an entitlement mismatch"),
    (Category.SHORT_PAYMENT, "a short payment")])
def test_categories_read_as_words_in_a_sentence(category: Category, phrase: str) -> None:
    from agent.llm.offline.templates import category_phrase
    assert category_phrase(category) == phrase


@pytest.mark.parametrize(("partner", "line"), [
    ("3780", "- Usage of api_calls_10k in the period: ours 3,750, the partner's feed 3,780\n"), ("3750", None)])
def test_a_usage_email_states_our_usage_against_the_partners_feed_when_they_differ(
        backend: OfflineBackend, partner: str, line: str | None) -> None:
    # A refused retry's exception states only what AWS accepted (30 of 30): the quantity the
    # refund is about is in the usage summary.
    usage = {"get_usage_summary": {"totals": [{"product_code": "p1", "dimension_key": "api_calls_10k", "ours": "3750",
                                               "partner": partner, "difference": str(int(partner) - 3750)}]}}
    retried = case("metering_not_accepted", "metering_duplicate_record", {"status": "DuplicateRecord", "records": 3},
                   usage, product_code="p1", dimension_key="api_calls_10k", expected_amount="1.17513",
                   observed_amount="1.17513", delta_amount="0", expected_quantity="30", observed_quantity="30")
    body = backend.draft(retried, backend.classify(retried).value).value.body
    if line is None:
        assert "the partner's feed" not in body
    else:
        assert line in body


REFUSED = {"get_metering_results": {"status_counts": [
    {"product_code": "p1", "dimension": "calls", "status": "CustomerNotSubscribed", "records": 12, "quantity": "1200",
     "first_timestamp": "2026-10-04T11:00:00Z"}]}}
OLD_CONTRACT = {"contract_key": "C-1", "agreement_id": "agmt-old", "agreement_status": "ACTIVE", "covers_period": True}


def refused(contract: dict[str, Any], agreements: list[dict[str, Any]]) -> CaseInput:
    return case("metering_not_accepted", "metering_customer_not_subscribed",
                {"status": "CustomerNotSubscribed", "records": 12, "contract_key": "C-1"},
                {**REFUSED, **_agreement_state([contract], agreements)}, dimension_key="calls")


def test_refusals_after_a_replacement_are_a_stale_mapping_fixed_internally(backend: OfflineBackend) -> None:
    """The rejected metering runbook's step 1: subscribed under a new agreement, our mapping is stale."""
    stale = refused({**OLD_CONTRACT, "agreement_status": "SUPERSEDED", "replaced_by": "agmt-new"}, AMENDED_MID_PERIOD)
    facts = Facts(stale)
    assert facts.agreement_replaced() == "agreement agmt-old of contract C-1 was replaced by agmt-new from " \
                                         "2026-10-04T11:00:00Z"
    assert facts.refused_while_subscribed() == ""
    decision = backend.classify(stale).value
    assert (decision.category, decision.action, decision.escalate_to) == (
        Category.REJECTED_METERING, Action.FIX_METERING_MAPPING, EscalateTo.INTERNAL)
    assert "replaced by agmt-new" in decision.rationale


def test_refusals_under_an_unchanged_agreement_ask_the_customer_to_resubscribe(backend: OfflineBackend) -> None:
    """Nothing on our side changed, yet AWS says the customer is not subscribed: the runbook's
    'customer not subscribed by mistake' — the account manager asks them to re-subscribe, and the
    held usage is resent."""
    unchanged = refused(OLD_CONTRACT, [{**AMENDED_MID_PERIOD[0], "status": "ACTIVE", "end_time": None}])
    assert Facts(unchanged).agreement_replaced() == ""
    assert Facts(unchanged).refused_while_subscribed() == "agreement agmt-old of contract C-1 is ACTIVE and was not replaced"
    decision = backend.classify(unchanged).value
    assert (decision.category, decision.action, decision.escalate_to, decision.owner) == (
        Category.REJECTED_METERING, Action.RESEND_METERING, EscalateTo.CUSTOMER, "account-management")
    assert "agmt-old of contract C-1 is ACTIVE and was not replaced" in decision.rationale
    email = backend.draft(unchanged, decision).value
    assert email.kind == "email" and "Please re-subscribe" in email.body and "holding the usage" in email.body
    # Another product's refusals say nothing about this one.
    other_product = refused(OLD_CONTRACT, [{**AMENDED_MID_PERIOD[0], "status": "ACTIVE", "end_time": None}])
    other_product.exception["product_code"] = "p2"
    assert Facts(other_product).refused_while_subscribed() == ""
    # Without the agreement state nothing says whose side it is: the runbook's internal first.
    unknown = case("metering_not_accepted", "metering_customer_not_subscribed",
                   {"status": "CustomerNotSubscribed", "records": 12}, REFUSED)
    assert Facts(unknown).refused_while_subscribed() == ""
    assert backend.classify(unknown).value.escalate_to is EscalateTo.INTERNAL
