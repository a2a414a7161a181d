"""The SOPs' decision steps as code: from a stated difference to ranked causes.

Each rule family has one function reading the signals that tell its look-alike causes apart
(the "evidence that tells it apart" column of DOMAIN.md's taxonomy, and the decision steps of
the runbooks). A hypothesis' score is how strongly the evidence supports it (0–1), not yet a
probability: the calibrator maps it to one. Reasons quote evidence values verbatim, so a
rationale built from them contains no number the evidence does not hold.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from agent.llm.offline.signals import Facts, close, dec
from agent.schemas import Action, Category, EscalateTo
from agent.taxonomy import Resolution, candidate_categories, is_our_rule
from billing import json_text
from billing.bundles.scope import month_bounds

C = Category


@dataclass
class Hypothesis:
    category: Category
    score: float
    reasons: list[str] = field(default_factory=list)
    # The fix the decision step itself names, when it is not the category's usual one
    # (`agent.taxonomy.resolution_for`): e.g. a rejected invoice is reissued, not investigated.
    resolution: Resolution | None = None


def _h(category: Category, score: float, *reasons: str, resolution: Resolution | None = None) -> Hypothesis:
    return Hypothesis(category, score, [r for r in reasons if r], resolution)


def _boundary_share(f: Facts) -> tuple[Decimal | None, Decimal | None]:
    """How much of the gap sits on the month's edge: (edge quantity, |gap|)."""
    gap = abs(f.delta_qty) if f.delta_qty is not None else None
    if f.kind == "usage_shortfall":
        # Our last hours billed by the partner on the next month's first day.
        edge = f.detail_dec("boundary", "partner_next_day_surplus")
        last = f.detail_dec("boundary", "our_last_hours_quantity")
        if edge is not None and last is not None:
            edge = min(edge, last)
        return edge, gap
    # Excess: the partner's first day of this month holds our previous month's last hours.
    days = f.detail("largest_gap_days") or []
    period = f.exc.get("period") or ""
    first_day_gap = next((dec(d.get("gap")) for d in days if str(d.get("day", "")).endswith("-01")
                          and str(d.get("day", "")).startswith(period)), None)
    return first_day_gap, gap


def usage_gap(f: Facts) -> list[Hypothesis]:
    """usage_vs_partner_usage: dropped or duplicated metering, wrong dimension, entitlement, or the month's edge."""
    hyps: list[Hypothesis] = []
    ours, partner = f.detail("our_quantity"), f.detail("partner_quantity")
    hyps += _usage_causes(f)
    edge, gap = _boundary_share(f)
    confined = _gap_confined_to_edge(f)
    if edge is not None and gap and edge > 0 and min(edge / gap, Decimal(1)) >= Decimal("0.9"):
        hyps.append(_h(C.TIMING_DIFFERENCE, 0.9,
                       f"the gap of {gap.normalize():f} sits at the month's edge ({edge.normalize():f} moved "
                       "across the midnight-UTC cut-off)"))
    elif confined:
        hyps.append(_h(C.TIMING_DIFFERENCE, 0.84, confined))
    if f.kind == "usage_shortfall":
        days = f.detail("days_with_gap")
        hyps.append(_h(C.DROPPED_METERING, 0.6 if confined else 0.8,
                       f"we metered {ours} but the partner's feed shows {partner}"
                       + (f" on {days} day(s) with a gap" if days else "")))
    else:
        dup = f.metering_statuses(f.exc.get("dimension_key")).get("DuplicateRecord", 0)
        hyps.append(_h(C.DUPLICATE_METERING, 0.85 if dup else 0.78,
                       f"the partner's feed shows {partner} against our {ours}"
                       + ("; metering results include DuplicateRecord" if dup else "")))
    return hyps


def _usage_causes(f: Facts) -> list[Hypothesis]:
    """The causes that outrank a plain dropped/duplicated record when their evidence is present."""
    hyps: list[Hypothesis] = []
    problem = f.agreement_problem()
    if problem:
        hyps.append(_h(C.ENTITLEMENT_MISMATCH, 0.92, problem + "; usage continued without an entitlement"))
    shift = f.dimension_mix_shift()
    total = f.detail("account_product_total") or {}
    if shift:
        hyps.append(_h(C.WRONG_DIMENSION, 0.92, shift + ": quantity moved between dimensions"))
    elif total.get("agrees") is True:
        hyps.append(_h(C.WRONG_DIMENSION, 0.9,
                       f"the account's total over the product's dimensions agrees ({total.get('ours')} ours vs "
                       f"{total.get('partner')} partner) while this dimension differs"))
    rejected = f.metering_statuses(f.exc.get("dimension_key")).get("CustomerNotSubscribed", 0)
    if rejected and not problem:
        whose = f.agreement_replaced() or f.refused_while_subscribed()  # who is asked follows from it
        hyps.append(_h(C.REJECTED_METERING, 0.88,
                       f"{rejected} metering record(s) of this dimension answered CustomerNotSubscribed"
                       + (f"; {whose}" if whose else "")))
    return hyps


def _gap_confined_to_edge(f: Facts) -> str:
    """The whole gap on the month's first or last day, within our usage of the edge hours."""
    days = f.detail("largest_gap_days") or []
    if len(days) != 1 or f.detail("days_with_gap") not in (1, None):
        return ""
    day = str(days[0].get("day", ""))
    period = f.exc.get("period") or ""
    gap = dec(days[0].get("gap"))
    if gap is None or not day.startswith(period):
        return ""
    try:
        start, after = month_bounds(period)
    except ValueError:
        return ""
    # The period's own first and last days: the 29th of a 31-day month is no edge.
    last_day = day == (after - timedelta(days=1)).isoformat() and gap < 0
    edge = f.detail_dec("boundary", "our_last_hours_quantity" if last_day else "our_first_hours_quantity")
    first_day = day == start.isoformat() and gap > 0
    statuses = f.metering_statuses(f.exc.get("dimension_key"))
    if last_day and (statuses.get("Unprocessed") or statuses.get("CustomerNotSubscribed")):
        return ""  # the edge hours were never accepted by the marketplace: lost, not late
    if (last_day or first_day) and edge is not None and abs(gap) <= edge:
        return (f"the whole gap ({gap.normalize():f}) falls on {day}, within our usage of the edge hours "
                f"({edge.normalize():f}): a record on the wrong side of the midnight-UTC cut-off")
    return ""


def metering_status(f: Facts) -> list[Hypothesis]:
    """metering_not_accepted: what AWS answered decides it, read with the agreement state."""
    status = f.detail("status") or ""
    records = f.detail("records")
    if f.kind == "metering_customer_not_subscribed" or status == "CustomerNotSubscribed":
        problem = f.agreement_problem()
        if problem:
            return [_h(C.ENTITLEMENT_MISMATCH, 0.9, problem + f"; {records} record(s) answered CustomerNotSubscribed"),
                    _h(C.REJECTED_METERING, 0.5, "")]
        replaced = f.agreement_replaced()
        if replaced:  # the runbook's decision step 1: subscribed under a new agreement, our mapping is stale
            return [_h(C.REJECTED_METERING, 0.9, f"{records} record(s) answered CustomerNotSubscribed; {replaced}, "
                                                "and we still meter the old customer mapping")]
        unchanged = f.refused_while_subscribed() or "the agreement is in force and was not replaced"
        return [_h(C.REJECTED_METERING, 0.9, f"{records} record(s) answered CustomerNotSubscribed; {unchanged}")]
    if f.kind == "metering_duplicate_record" or status == "DuplicateRecord":
        other = f.detail("hours_accepted_with_other_quantity") or 0
        if other:
            return [_h(C.DUPLICATE_METERING, 0.9,
                       f"{other} hour(s) were retried with another quantity; AWS bills the original")]
        return [_h(C.DUPLICATE_METERING, 0.6, f"{records} retried record(s) answered DuplicateRecord"),
                _h(C.TIMING_DIFFERENCE, 0.3, "")]
    return [_h(C.DROPPED_METERING, 0.88, f"{records} record(s) were left in UnprocessedRecords and not resent")]


def metering_gaps(f: Facts) -> list[Hypothesis]:
    """metering_gaps: hours without an accepted record — never sent, sent under another dimension, or refused."""
    if f.kind == "partner_feed_missing_day":
        return [_h(C.TIMING_DIFFERENCE, 0.7, "a day is missing from the partner's feed; the feed refreshes every 24 h"),
                _h(C.DROPPED_METERING, 0.35, "")]
    hyps = _usage_causes(f)
    answered = f.detail("hours_answered_otherwise") or 0
    missing = f.detail("missing_hours")
    statuses = f.metering_statuses(f.exc.get("dimension_key"))
    unprocessed = statuses.get("Unprocessed", 0)
    if answered and unprocessed:
        # Left in UnprocessedRecords and never retried: dropped on our side, not refused by AWS.
        hyps.append(_h(C.DROPPED_METERING, 0.88, f"{unprocessed} record(s) came back in UnprocessedRecords "
                                                 "and were never resent"))
    elif answered and not any(h.category in (C.ENTITLEMENT_MISMATCH, C.REJECTED_METERING) for h in hyps):
        hyps.append(_h(C.REJECTED_METERING, 0.85, f"{answered} of the {missing} hour(s) were answered with another status"))
    hyps.append(_h(C.DROPPED_METERING, 0.82 if not answered else 0.5,
                   f"{missing} hour(s) with usage have no accepted metering record"))
    return hyps


def not_invoiced(f: Facts) -> list[Hypothesis]:
    """usage_without_invoice: a skipped billing run, or usage the customer was no longer entitled to."""
    problem = f.agreement_problem()
    if problem:
        return [_h(C.ENTITLEMENT_MISMATCH, 0.9, problem + "; the usage has no agreement to be invoiced under"),
                _h(C.MISSING_INVOICE, 0.5, "")]
    return [_h(C.MISSING_INVOICE, 0.88, "usage was metered but nothing was invoiced for the period")]


def disbursement_gap(f: Facts) -> list[Hypothesis]:
    """disbursed_vs_invoiced: a short payment, or something that explains the gap."""
    hyps: list[Hypothesis] = []
    gap = f.delta
    refunds, fee, gross = f.detail_dec("refunds"), f.detail_dec("listing_fee"), f.detail_dec("gross")
    returned = f.failed_payout_of_case()
    if returned:
        hyps.append(_h(C.DISBURSEMENT_FAILURE, 0.95, returned))
    elif f.evidence_mentions("DISBURSEMENT_FAILURE"):
        hyps.append(_h(C.DISBURSEMENT_FAILURE, 0.9, "a DISBURSEMENT_FAILURE row is in the partner's events"))
    if refunds and close(refunds, gap):
        hyps.append(_h(C.REFUND_DISCREPANCY, 0.8, f"the gap equals the refunds of {refunds.normalize():f}"))
    if f.currency != "USD" and gap is not None and f.expected_amount and abs(gap) <= abs(f.expected_amount) * Decimal("0.03"):
        hyps.append(_h(C.FX_VARIANCE, 0.75, f"a small gap on a {f.currency} balance"))
    contracted = dec((f.case.evidence.get("check_listing_fee") or {}).get("contracted_rate")) if isinstance(
        f.case.evidence.get("check_listing_fee"), dict) else None
    if contracted is not None and fee is not None and gross:
        expected_fee = gross * contracted
        if gap is not None and close(abs(fee) - expected_fee, gap, rel=Decimal("0.05")):
            hyps.append(_h(C.LISTING_FEE_MISMATCH, 0.85, "the gap equals the listing fee charged above the contracted rate"))
    awaiting = f.kind == "undisbursed" and _collected_awaiting_payout(f)
    if awaiting:
        hyps.append(_h(C.TIMING_DIFFERENCE, 0.88, "the buyer's payment is COLLECTED and no payout has run since: "
                                                  "the money waits for the next scheduled disbursement"))
    if f.kind == "undisbursed":
        # Money AWS holds for the next scheduled payout is not missing: a short payment only if
        # that payout leaves it out, which the evidence cannot show yet. Money paid out and
        # returned by the bank is not short-paid either: the failed payout explains it.
        hyps.append(_h(C.SHORT_PAYMENT, 0.45 if awaiting or returned else 0.82,
                       f"nothing was disbursed against {f.detail('invoiced_net')} net invoiced"))
    elif f.kind == "over_disbursed":
        hyps.append(_h(C.SHORT_PAYMENT, 0.5, "more was disbursed than invoiced"))
    else:
        hyps.append(_h(C.SHORT_PAYMENT, 0.8, f"{f.detail('disbursed')} disbursed against {f.detail('invoiced_net')} net invoiced"))
    return hyps


def _collected_awaiting_payout(f: Facts) -> bool:
    """COLLECTED rows for the case's invoices, none DISBURSED and no payout failure."""
    events = f.case.evidence.get("get_partner_billing_events") or {}
    text = json_text.dumps(events)
    return '"COLLECTED"' in text and '"DISBURSED"' not in text and "DISBURSEMENT_FAILURE" not in text


#: At most this many open invoices are tried together against a receipt (cash application).
MATCH_INVOICES = 3


def _open_invoices_paid_by(f: Facts, amount: Decimal | None) -> list[str]:
    """The customer's open invoices whose outstanding balances add up to `amount` exactly (one,
    two or three of them, the fewest first; [] when none or when the evidence has no balances)."""
    payments = f.case.evidence.get("get_payments_and_disbursements") or {}
    balances = payments.get("invoice_balances") or [] if isinstance(payments, dict) else []
    currency = f.currency
    open_ = [(str(b.get("invoice_number")), dec(b.get("outstanding"))) for b in balances
             if isinstance(b, dict) and b.get("currency") in (None, currency)]
    open_ = [(number, due) for number, due in open_ if due is not None and due > 0][:12]
    if amount is None or amount <= 0:
        return []
    for size in range(1, MATCH_INVOICES + 1):
        for combo in itertools.combinations(open_, size):
            if sum((due for _, due in combo), Decimal(0)) == amount:
                return [number for number, _ in combo]
    return []


#: Cash that pays open invoices under references we do not know: applied by us (the short
#: payment runbook's "apply unapplied cash to the invoice it pays"), nothing asked of anyone.
APPLY_CASH = Resolution(Action.INVESTIGATE, EscalateTo.INTERNAL, "billing-ops")


def direct_payment(f: Facts) -> list[Hypothesis]:
    if f.kind == "unapplied_cash":
        if f.detail("account_identified") is False:
            return [_h(C.OTHER, 0.8, f"a receipt from {f.detail('payer')} matches no invoice and no known customer"),
                    _h(C.SHORT_PAYMENT, 0.3, "")]
        if matched := _open_invoices_paid_by(f, abs(f.observed) if f.observed is not None else None):
            # The customer paid those invoices under references we do not know: apply the cash
            # (ours to do; chasing a customer who has paid is the one wrong move).
            return [_h(C.SHORT_PAYMENT, 0.85, f"the receipt equals the open balance of {' + '.join(matched)}: "
                                              "unapplied cash to apply to them", resolution=APPLY_CASH),
                    _h(C.OTHER, 0.3, "")]
        return [_h(C.SHORT_PAYMENT, 0.6, "a receipt from a known customer matches no invoice (unapplied cash)"),
                _h(C.OTHER, 0.45, "")]
    if f.bank_charges_noted():
        return [_h(C.SHORT_PAYMENT, 0.85, "the direct invoice was paid short, and the payment's remittance note says "
                                          "bank charges were taken from the transfer")]
    return [_h(C.SHORT_PAYMENT, 0.85, "the direct invoice is past due and not fully paid")]


def single(category: Category, score: float, reason: str) -> Callable[[Facts], list[Hypothesis]]:
    """A rule whose difference has one usual cause."""
    def diagnose(f: Facts) -> list[Hypothesis]:
        return [_h(category, score, reason)]
    return diagnose


BY_RULE: dict[str, Callable[[Facts], list[Hypothesis]]] = {
    "usage_vs_partner_usage": usage_gap,
    "metering_not_accepted": metering_status,
    "metering_gaps": metering_gaps,
    "disbursed_vs_invoiced": disbursement_gap,
    "direct_payments": direct_payment,
    "billed_rate_vs_contract": single(C.PRICE_MISMATCH, 0.92, "the billed rate differs from the contracted rate"),
    "usage_without_agreement": single(C.ENTITLEMENT_MISMATCH, 0.9, "usage continued without an active agreement"),
    "usage_without_invoice": not_invoiced,
    "channel_overlap": single(C.CHANNEL_CONFLICT, 0.9, "the same usage was billed direct and through the marketplace"),
    "listing_fee_vs_contract": single(C.LISTING_FEE_MISMATCH, 0.93, "the listing fee rate charged differs from the contracted rate"),
    "forgiven_charges": single(C.FORGIVEN_CHARGE, 0.93, "the marketplace reverted the charge (action FORGIVEN)"),
    "disbursement_integrity": single(C.DISBURSEMENT_FAILURE, 0.92, "the payout does not match its events or failed"),
    "refunds_vs_approvals": single(C.REFUND_DISCREPANCY, 0.92, "refund rows and approved refund requests disagree"),
    "credits_vs_credit_notes": single(C.CREDIT_MISAPPLIED, 0.9, "credit rows and credit notes disagree"),
    "fx_conversion": single(C.FX_VARIANCE, 0.9, "the converted disbursement differs from the rate of the day"),
    "tax_treatment": single(C.TAX_DISCREPANCY, 0.9, "the tax rows disagree with the contract's tax treatment"),
    "reseller_wholesale": single(C.RESELLER_MARGIN_MISMATCH, 0.9, "the reseller's cost differs from the authorised wholesale price"),
}


def known_rule(rule: str | None) -> bool:
    """Whether `rule` is one of our reconciliation's rules (else another tool raised the exception)."""
    return (rule or "") in BY_RULE or is_our_rule(rule)


def diagnose(f: Facts) -> list[Hypothesis]:
    """Ranked hypotheses (best first; one per category, the strongest kept).

    A rule of ours is read by its own decision steps; a rule we do not know (an exception
    imported from another tool) by every runbook's steps over its evidence (`inference`)."""
    fn = BY_RULE.get(f.rule)
    if fn is not None:
        hyps = fn(f)
    elif known_rule(f.rule):
        hyps = [_h(c, 0.5 if i == 0 else 0.2, f"the usual cause of a {f.kind or 'difference'}")
                for i, c in enumerate(candidate_categories(f.rule, f.kind))]
    else:
        from agent.llm.offline.inference import infer  # it builds on this module's steps

        hyps = infer(f)
    best: dict[Category, Hypothesis] = {}
    for h in hyps:
        if h.category not in best or h.score > best[h.category].score:
            best[h.category] = h
    return sorted(best.values(), key=lambda h: (-h.score, h.category.value))
