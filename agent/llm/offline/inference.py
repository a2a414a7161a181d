"""Causes for an exception whose rule we do not know: read from what the case itself carries.

Exceptions imported from another reconciliation tool name their difference in that tool's
words (`cash-recon` / `REMITTANCE_BELOW_NET`, `usage-recon` / `QTY_VARIANCE`...), and carry none
of the details our own rules compute. The graph still gathers every evidence tool for them
(`tools.evidence.DEFAULT_PLAN`), so instead of a lookup by rule name each category's decision
steps are asked in turn whether the evidence supports them (`PROBES`). What ties evidence to
*this* exception, rather than to anything else on the account, is:

- the records the exception names (`record_refs`: the billing events, payments, invoices,
  credit notes, refund requests another tool can know);
- its amounts: a figure of the evidence equal to the expected, observed or delta amount;
- its product, dimension and period, and the sign of its difference.

Every probe that finds support proposes its category with a score; the backend's existing
ranking and neighbours-free scoring choose among them. Words of the other tool's rule and kind
only nudge near-ties (`agent.taxonomy.KIND_WORDS`): a name can mislead, the records cannot. When nothing is
supported the case stays `other` with a low score, and goes to a person.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from agent.llm.offline.diagnosis import APPLY_CASH, Hypothesis, _gap_confined_to_edge, _h, _usage_causes
from agent.llm.offline.signals import Facts, close, dec
from agent.schemas import Action, Category, EscalateTo
from agent.taxonomy import Resolution, hinted_categories, name_words

C = Category
ZERO = Decimal(0)

HINT_BOOST = 0.03  # a hinted category among supported ones: enough to break a near-tie, no more
HINT_ALONE = 0.4  # a hinted category with no support in the evidence: a weak guess
NOTHING_SUPPORTED = 0.3  # `other` when no probe found support: low, so it is never sent on alone


def kind_words(f: Facts) -> list[str]:
    """The lower-case words of the other tool's rule and kind."""
    return name_words(f.rule, f.kind)


def hinted(f: Facts) -> set[Category]:
    """The categories the other tool's names hint at."""
    return set(hinted_categories(f.rule, f.kind))


@dataclass
class Evidence:
    """The evidence tools' answers as lists of rows (an absent or failed tool gives empty lists)."""

    events: list[dict[str, Any]]
    invoice_totals: list[dict[str, Any]]
    payouts: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    credit_notes: list[dict[str, Any]]
    refund_requests: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    balances: list[dict[str, Any]]
    fee_lines: list[dict[str, Any]]
    contracts: list[dict[str, Any]]
    refs: set[str]

    @classmethod
    def of(cls, f: Facts) -> Evidence:
        ev = f.case.evidence

        def rows(tool: str, key: str) -> list[dict[str, Any]]:
            result = ev.get(tool)
            items = result.get(key) if isinstance(result, dict) else None
            return [r for r in items if isinstance(r, dict)] if isinstance(items, list) else []

        refs = {str(r) for kind, ids in (f.exc.get("record_refs") or {}).items() if isinstance(ids, list) for r in ids}
        return cls(
            events=rows("get_partner_billing_events", "events"),
            invoice_totals=rows("get_partner_billing_events", "invoices"),
            payouts=rows("get_partner_billing_events", "payouts") or rows("get_payments_and_disbursements", "payouts"),
            invoices=rows("get_invoices_and_credits", "invoices"),
            credit_notes=rows("get_invoices_and_credits", "credit_notes"),
            refund_requests=rows("get_invoices_and_credits", "refund_requests"),
            payments=rows("get_payments_and_disbursements", "payments"),
            balances=rows("get_payments_and_disbursements", "invoice_balances"),
            fee_lines=rows("check_listing_fee", "lines"),
            contracts=rows("get_contract_terms", "contracts"),
            refs=refs,
        )

    def named(self, row: dict[str, Any], *keys: str) -> bool:
        """Whether the exception names this record (by any of its id fields)."""
        return any(str(row.get(k)) in self.refs for k in keys if row.get(k) is not None)


class Amounts:
    """The exception's amounts, to recognise the evidence figure it is about.

    Another tool may state in its own reporting currency what the records hold in theirs (a EUR
    invoice reconciled in USD): the amounts are also tried converted at the rates the evidence
    carries, with a looser tolerance (the rate of the day is not known)."""

    CONVERTED_TOLERANCE = Decimal("0.02")

    def __init__(self, f: Facts) -> None:
        values = (f.expected_amount, f.observed, f.delta)
        self.values = [abs(v) for v in values if v is not None and v != 0]
        self.currency = f.currency
        self.converted: list[Decimal] = []
        for rate in _usd_rates(f):
            if f.currency == "USD":
                self.converted += [v / rate.usd_per_unit for v in self.values]
            elif rate.currency == f.currency:
                self.converted += [v * rate.usd_per_unit for v in self.values]

    def match(self, value: Decimal | None, currency: Any = None) -> bool:
        """Whether `value` (in `currency`) is one of the exception's amounts: to the cent or 0.5 %;
        converted at an evidence rate (2 %) only when the record is in another currency."""
        if value is None or value == 0:
            return False
        if any(close(value, v, rel=Decimal("0.005"), abs_=Decimal("0.02")) for v in self.values):
            return True
        foreign = currency is not None and str(currency) != self.currency
        return foreign and any(close(value, v, rel=self.CONVERTED_TOLERANCE) for v in self.converted)

    def any(self, values: Iterable[Decimal | None], currency: Any = None) -> bool:
        return any(self.match(v, currency) for v in values)


@dataclass(frozen=True)
class _Rate:
    currency: str
    usd_per_unit: Decimal


def _usd_rates(f: Facts) -> list[_Rate]:
    """The USD rates of other currencies the evidence carries (the partner's events' fx rates)."""
    events = f.case.evidence.get("get_partner_billing_events") or {}
    rows = events.get("fx_rates") or [] if isinstance(events, dict) else []
    found = {(str(r.get("currency")), dec(r.get("usd_per_unit"))) for r in rows if isinstance(r, dict)}
    return [_Rate(c, v) for c, v in sorted(found, key=lambda x: (x[0], x[1] or ZERO))
            if v is not None and v > 0 and c and c != "USD"]


Probe = Callable[[Facts, Evidence, Amounts], list[Hypothesis]]


def _sum(rows: Iterable[dict[str, Any]], key: str = "amount") -> Decimal:
    return sum((abs(dec(r.get(key)) or ZERO) for r in rows), ZERO)


def _ttype(row: dict[str, Any]) -> str:
    return str(row.get("transaction_type") or "").upper()


def forgiven(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Forgiven charge runbook: the marketplace reverted the charge (`action = FORGIVEN`)."""
    rows = [e for e in ev.events if str(e.get("action") or "").upper() == "FORGIVEN"]
    if not rows:
        return []
    by_invoice = [dec(t.get("forgiven")) for t in ev.invoice_totals]
    if amt.any([_sum(rows), *by_invoice], rows[0].get("currency")) or any(ev.named(e, "billing_event_id") for e in rows):
        return [_h(C.FORGIVEN_CHARGE, 0.92, f"billing event {rows[0].get('billing_event_id')} has action FORGIVEN "
                                            "and the forgiven rows carry the amount")]
    return [_h(C.FORGIVEN_CHARGE, 0.5, "billing events with action FORGIVEN are on the account")]


def payout_failure(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Disbursement failure runbook: a DISBURSEMENT_FAILURE row, a payout that does not add up,
    or a payout whose bank trace no receipt carries."""
    hyps: list[Hypothesis] = []
    failures = [e for e in ev.events if _ttype(e) == "DISBURSEMENT_FAILURE"]
    if failures:
        tied = amt.any((dec(e.get("amount")) for e in failures), failures[0].get("currency")) or any(ev.named(e, "billing_event_id") for e in failures)
        hyps.append(_h(C.DISBURSEMENT_FAILURE, 0.93 if tied else 0.6,
                       f"a DISBURSEMENT_FAILURE row of {failures[0].get('amount')} {failures[0].get('currency')}"))
    for p in ev.payouts:
        if _ttype(p) != "DISBURSEMENT" or p.get("adds_up") is not False:
            continue
        amount, total = dec(p.get("amount")), dec(p.get("rows_total"))
        gap = abs(amount) - abs(total) if amount is not None and total is not None else None
        if amt.any([amount, total, gap], p.get("currency")) or ev.named(p, "billing_event_id"):
            hyps.append(_h(C.DISBURSEMENT_FAILURE, 0.9, f"payout {p.get('billing_event_id')} of {p.get('amount')} "
                                                        f"does not add up to its rows ({p.get('rows_total')})"))
    traces = {str(p.get("bank_trace_id")) for p in ev.payments if p.get("bank_trace_id")}
    for e in ev.events:
        if _ttype(e) != "DISBURSEMENT" or not e.get("bank_trace_id") or str(e["bank_trace_id"]) in traces:
            continue
        carried = amt.match(dec(e.get("amount")), e.get("currency")) or \
            amt.match(dec(e.get("disbursement_amount")), e.get("disbursement_currency"))
        if carried and ev.named(e, "billing_event_id"):
            hyps.append(_h(C.DISBURSEMENT_FAILURE, 0.86, f"no bank receipt carries the payout's bank trace id "
                                                         f"{e.get('bank_trace_id')}"))
    return hyps


def refunds(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Refund runbook: a refund row without an approved request, or an approved request never paid."""
    hyps: list[Hypothesis] = []
    rows = [e for e in ev.events if _ttype(e).endswith("_REFUND")]
    if rows and (amt.any([_sum(rows), *(dec(e.get("amount")) for e in rows)], rows[0].get("currency"))
                 or any(ev.named(e, "billing_event_id") for e in rows)):
        hyps.append(_h(C.REFUND_DISCREPANCY, 0.9, f"refund row(s) such as {rows[0].get('billing_event_id')} "
                                                  f"({_ttype(rows[0])}) carry the amount"))
    for r in ev.refund_requests:
        if ev.named(r, "request_id") or amt.match(dec(r.get("amount")), r.get("currency")):
            hyps.append(_h(C.REFUND_DISCREPANCY, 0.9 if ev.named(r, "request_id") else 0.8,
                           f"refund request {r.get('request_id')} ({r.get('status')}) of {r.get('amount')} {r.get('currency')}"))
    return hyps


def credits(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Credit runbook: credit notes or _CREDIT rows that disagree with what was invoiced."""
    notes = [n for n in ev.credit_notes if ev.named(n, "credit_note_number")
             or amt.match(dec(n.get("amount")), n.get("currency"))]
    rows = [e for e in ev.events if _ttype(e).endswith("_CREDIT")]
    hyps: list[Hypothesis] = []
    if notes or (ev.credit_notes and amt.match(_sum(ev.credit_notes), ev.credit_notes[0].get("currency"))):
        hyps.append(_h(C.CREDIT_MISAPPLIED, 0.9, f"credit note(s) {', '.join(str(n.get('credit_note_number')) for n in notes or ev.credit_notes)} "
                                                 "carry the amount"))
    if rows and (amt.match(_sum(rows), rows[0].get("currency")) or any(ev.named(e, "billing_event_id") for e in rows)):
        hyps.append(_h(C.CREDIT_MISAPPLIED, 0.86, f"credit row(s) such as {rows[0].get('billing_event_id')} "
                                                  f"({_ttype(rows[0])}) carry the amount"))
    return hyps


def listing_fee(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Listing fee runbook: the fee % charged against the contract and the schedule."""
    hyps: list[Hypothesis] = []
    for line in ev.fee_lines:
        if line.get("matches_contract") is not False and line.get("matches_schedule") is not False:
            continue
        figures = [dec(line.get("fee_difference")), dec(line.get("listing_fee")), dec(line.get("expected_fee"))]
        # Name the reference the fee disagrees with: a fee that keeps to the contract can still
        # differ from AWS's schedule (a rate negotiated on the offer), which is a weaker signal.
        against = (f"{line.get('contracted_rate')} contracted" if line.get("matches_contract") is False
                   else f"{line.get('schedule_rate')} in AWS's fee schedule")
        reason = f"invoice {line.get('invoice_id')}: listing fee rate {line.get('observed_rate')} against {against}"
        hyps.append(_h(C.LISTING_FEE_MISMATCH, 0.92 if amt.any(figures, line.get("currency")) else 0.45, reason))
    return hyps


def tax(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Tax runbook: the tax party of the rows against the contract; our tax against the partner's."""
    hyps: list[Hypothesis] = []
    parties = {str(c.get("tax_party")) for c in ev.contracts}
    wrong_party = [e for e in ev.events if (_ttype(e) == "SELLER_TAX_SHARE" and parties == {"aws"})
                   or (_ttype(e) == "AWS_TAX_SHARE" and parties == {"seller"})]
    if wrong_party and (amt.match(_sum(wrong_party), wrong_party[0].get("currency")) or any(ev.named(e, "billing_event_id") for e in wrong_party)):
        hyps.append(_h(C.TAX_DISCREPANCY, 0.9, f"{_ttype(wrong_party[0])} rows where the contract's tax party is "
                                               f"{next(iter(parties))}"))
    totals = {str(t.get("invoice_id")): t for t in ev.invoice_totals}
    for inv in ev.invoices:
        partner = totals.get(str(inv.get("partner_invoice_id")))
        ours = dec(inv.get("tax"))
        if partner is None or ours is None:
            continue
        theirs = abs(dec(partner.get("seller_tax")) or ZERO) + abs(dec(partner.get("aws_tax")) or ZERO)
        if theirs != ours and amt.match(ours, inv.get("currency")) and (amt.match(theirs, partner.get("currency"))
                                                           or amt.match(theirs - ours, partner.get("currency"))):
            hyps.append(_h(C.TAX_DISCREPANCY, 0.9, f"invoice {inv.get('invoice_number')} states {inv.get('tax')} tax; "
                                                   f"the partner's tax rows on {partner.get('invoice_id')} differ"))
    return hyps


def fx(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """FX runbook: a payout converted into another currency, and a small difference on it."""
    hyps: list[Hypothesis] = []
    for e in ev.events:
        converted = dec(e.get("disbursement_amount"))
        if converted is None or not e.get("disbursement_currency") or e.get("disbursement_currency") == e.get("currency"):
            continue
        if not (amt.match(converted, e.get("disbursement_currency")) or ev.named(e, "billing_event_id")):
            continue
        small = f.delta is not None and f.expected_amount and abs(f.delta) <= abs(f.expected_amount) * Decimal("0.05")
        hyps.append(_h(C.FX_VARIANCE, 0.88 if small else 0.6,
                       f"payout {e.get('billing_event_id')} of {e.get('amount')} {e.get('currency')} was disbursed as "
                       f"{e.get('disbursement_amount')} {e.get('disbursement_currency')}"))
    return hyps


def reseller(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Reseller runbook: the reseller's cost (RESALE / BUYING rows) against the authorised wholesale price."""
    buying = [e for e in ev.events if str(e.get("charge_side") or "").upper() == "BUYING"
              and _ttype(e) == "SELLER_REV_SHARE" and str(e.get("action") or "").upper() == "INVOICED"]
    if not buying:
        return []
    authorised = [c for c in ev.contracts if c.get("wholesale_discount_pct") is not None]
    if amt.match(_sum(buying), buying[0].get("currency")):
        return [_h(C.RESELLER_MARGIN_MISMATCH, 0.88,
                    "the reseller's cost rows (RESALE, BUYING) carry the amount"
                    + (f"; contract {authorised[0].get('contract_key')} authorises a wholesale discount of "
                       f"{authorised[0].get('wholesale_discount_pct')}" if authorised else ""))]
    return []


def price(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Price runbook: the rate the partner billed against the contracted rate of the dimension."""
    dim, product = f.exc.get("dimension_key"), f.exc.get("product_code")
    rates = {(str(c.get("product_code")), str(r.get("dimension_key"))): dec(r.get("unit_price"))
             for c in ev.contracts for r in (c.get("rates") or []) if isinstance(r, dict)}
    summary = f.case.evidence.get("get_usage_summary") or {}
    days = summary.get("daily") or [] if isinstance(summary, dict) else []
    billed: set[Decimal] = set()
    for d in days:
        if not isinstance(d, dict) or (dim and d.get("dimension_key") != dim) or (product and d.get("product_code") != product):
            continue
        contracted = rates.get((str(d.get("product_code")), str(d.get("dimension_key"))))
        billed |= {r for r in (dec(x) for x in d.get("partner_rates") or []) if r is not None and contracted is not None
                   and not close(r, contracted, rel=Decimal("0.001"), abs_=Decimal("0.000001"))}
    if not billed:
        return []
    same_quantity = f.delta_qty is not None and f.delta_qty == 0
    return [_h(C.PRICE_MISMATCH, 0.9 if (dim and (same_quantity or f.delta_qty is None)) else 0.6,
                f"the partner billed at {', '.join(f'{r.normalize():f}' for r in sorted(billed))} per unit, "
                "not the contracted rate")]


def _invoice_products(ev: Evidence) -> dict[str, str]:
    by_contract = {str(c.get("contract_key")): str(c.get("product_code")) for c in ev.contracts}
    return {str(i.get("invoice_number")): by_contract.get(str(i.get("contract_key")), "") for i in ev.invoices}


def channel(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Channel conflict runbook: the same product and period on a direct invoice and a marketplace one."""
    period, product = f.exc.get("period"), f.exc.get("product_code")
    products = _invoice_products(ev)
    # An invoice whose contract is not among the case's (a direct contract is listed under its own
    # channel) may bill the same product: only a known other product rules it out.
    mine = [i for i in ev.invoices if i.get("period") == period
            and (product is None or products.get(str(i.get("invoice_number"))) in ("", product))]
    direct = [i for i in mine if i.get("channel") == "direct"]
    market = [i for i in mine if i.get("channel") != "direct"]
    if not direct or not market:
        return []
    tied = amt.any((dec(i.get(k)) for i in direct for k in ("subtotal", "total")), direct[0].get("currency")) or \
        any(ev.named(i, "invoice_number") for i in direct)
    return [_h(C.CHANNEL_CONFLICT, 0.9 if tied else 0.55,
                f"{direct[0].get('invoice_number')} (direct) and {market[0].get('invoice_number')} "
                f"({market[0].get('channel')}) bill the same product for {period}")]


def _contract_currency(f: Facts, ev: Evidence) -> str | None:
    """The currency of the exception's product's contracts (the one their rates are in)."""
    found = {str(c.get("currency")) for c in ev.contracts
             if c.get("product_code") == f.exc.get("product_code") and c.get("currency")}
    return found.pop() if len(found) == 1 else None


def _billable_value(f: Facts, ev: Evidence) -> Decimal | None:
    """Σ our quantity × contracted rate over the case's product (its dimension, when it names one)."""
    summary = f.case.evidence.get("get_usage_summary") or {}
    totals = summary.get("totals") or [] if isinstance(summary, dict) else []
    rates = {(str(c.get("product_code")), str(r.get("dimension_key"))): dec(r.get("unit_price"))
             for c in ev.contracts for r in (c.get("rates") or []) if isinstance(r, dict)}
    value, seen = ZERO, False
    for t in totals:
        if not isinstance(t, dict) or (f.exc.get("product_code") and t.get("product_code") != f.exc.get("product_code")):
            continue
        if f.exc.get("dimension_key") and t.get("dimension_key") != f.exc.get("dimension_key"):
            continue
        rate, qty = rates.get((str(t.get("product_code")), str(t.get("dimension_key")))), dec(t.get("ours"))
        if rate is not None and qty is not None:
            value += rate * qty
            seen = True
    return value if seen else None


def _nothing_observed(f: Facts, value: Decimal) -> bool:
    """Whether the exception says nothing was billed against `value`: no observed amount, or a
    difference that is the whole value (the other tool compared the usage with nothing)."""
    if f.observed is None or f.observed == 0:
        return True
    return f.delta is not None and close(abs(f.delta), value, rel=Decimal("0.005"), abs_=Decimal("0.02"))


def not_invoiced(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Missing invoice runbook: usage worth the amount, and no invoice for the period."""
    value = _billable_value(f, ev)
    if value is None or value == 0 or not amt.match(value, _contract_currency(f, ev)):
        return []
    if not _nothing_observed(f, value):
        return []  # the other tool saw an amount billed: whatever the difference is, the invoice exists
    period = f.exc.get("period") or ""
    products = _invoice_products(ev)
    product = f.exc.get("product_code")
    invoiced = [i for i in ev.invoices if i.get("period") == period
                and (product is None or products.get(str(i.get("invoice_number"))) == product)]
    events = [e for e in ev.events if str(e.get("action") or "").upper() == "INVOICED"
              and _ttype(e) == "SELLER_REV_SHARE" and str(e.get("usage_period_start_date") or "").startswith(period)]
    if invoiced or events:
        return []
    problem = _scoped_to_contract(f).agreement_problem()
    if problem:
        return [_h(C.ENTITLEMENT_MISMATCH, 0.9, problem + "; the usage has no agreement to be invoiced under"),
                _h(C.MISSING_INVOICE, 0.5, "")]
    return [_h(C.MISSING_INVOICE, 0.88, f"our usage at contract rates is worth the amount, and nothing was "
                                        f"invoiced for {period}")]


def unpaid(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Short payment runbook: less collected or disbursed than was invoiced net, and what explains it."""
    hyps: list[Hypothesis] = []
    for t in ev.invoice_totals:
        net, paid, cur = dec(t.get("net_invoiced")), abs(dec(t.get("disbursed")) or ZERO), t.get("currency")
        if net is None or net <= 0 or paid >= net:
            continue
        if not (amt.match(net - paid, cur) or (amt.match(net, cur) and amt.match(paid or None, cur))
                or (paid == 0 and amt.match(net, cur))):
            continue
        hyps.append(_h(C.SHORT_PAYMENT, 0.82, f"less was disbursed than the {t.get('net_invoiced')} net invoiced "
                                              f"on {t.get('invoice_id')}"))
    latest = _latest_date(f, ev)
    for b in ev.balances:
        outstanding = dec(b.get("outstanding"))
        if not (outstanding and outstanding > 0 and (amt.match(outstanding, b.get("currency")) or ev.named(b, "invoice_number"))
                and any(i.get("channel") == "direct" and i.get("invoice_number") == b.get("invoice_number")
                        for i in ev.invoices)):
            continue
        # Short payment runbook: less was remitted than invoiced, or nothing by the due date. An
        # invoice merely open (not yet due, rejected, disputed) is not shown short-paid by its balance.
        paid = dec(b.get("paid")) or ZERO
        past_due = bool(latest and b.get("due_date") and str(b["due_date"]) < latest)
        if paid > 0:
            hyps.append(_h(C.SHORT_PAYMENT, 0.85, f"direct invoice {b.get('invoice_number')} was paid "
                                                  f"{b.get('paid')} and has {b.get('outstanding')} outstanding"))
        else:
            hyps.append(_h(C.SHORT_PAYMENT, 0.8 if past_due else 0.5,
                           f"direct invoice {b.get('invoice_number')} has {b.get('outstanding')} {b.get('currency')} "
                           + (f"unpaid past its due date {b.get('due_date')}" if past_due else "open")))
    if hyps and _collected_awaiting_payout(ev):
        hyps.append(_h(C.TIMING_DIFFERENCE, 0.86, "the buyer's payment is COLLECTED and no payout has run since"))
    return hyps


def _latest_date(f: Facts, ev: Evidence) -> str:
    """The latest day the evidence shows anything happen (ISO): a lower bound of the case's today."""
    days = [str(p.get("received_date") or "") for p in ev.payments]
    days += [str(e.get(k) or "") for e in ev.events for k in ("invoice_date", "action_date")]
    messages = f.case.evidence.get("get_messages") or {}
    days += [str(m.get("received_at") or "")[:10] for m in (messages.get("messages") or [] if isinstance(messages, dict)
                                                             else []) if isinstance(m, dict)]
    return max((d for d in days if d), default="")


def _collected_awaiting_payout(ev: Evidence) -> bool:
    actions = {str(e.get("action") or "").upper() for e in ev.events}
    types = {_ttype(e) for e in ev.events}
    return "COLLECTED" in actions and "DISBURSED" not in actions and "DISBURSEMENT_FAILURE" not in types


def unapplied(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Unapplied cash: a receipt that names no invoice; unknown payer -> investigate (`other`)."""
    receipts = [p for p in ev.payments if not p.get("invoice_number")
                and (ev.named(p, "payment_id") or amt.match(dec(p.get("amount")), p.get("currency")))]
    if not receipts:
        return []
    p = receipts[0]
    if p.get("account_key") is None:
        return [_h(C.OTHER, 0.8, f"payment {p.get('payment_id')} from {p.get('payer')} matches no invoice and no "
                                 "known customer"), _h(C.SHORT_PAYMENT, 0.3, "")]
    # Cash from a known customer that names no invoice underpays nothing by itself (a prepayment,
    # a payment sent without its reference): it is unapplied cash, outside the taxonomy. It is a
    # short payment only if it is the missing part of an invoice still open.
    open_amounts = [dec(b.get("outstanding")) for b in ev.balances if (dec(b.get("outstanding")) or ZERO) > 0]
    pays_open = any(close(o, dec(p.get("amount"))) for o in open_amounts)
    return [_h(C.OTHER, 0.5 if pays_open else 0.7, f"payment {p.get('payment_id')} from a known customer names no "
                                                   "invoice (unapplied cash)"),
            _h(C.SHORT_PAYMENT, 0.75 if pays_open else 0.35,
               "it equals the balance of an open invoice" if pays_open else "", resolution=APPLY_CASH if pays_open else None)]


def usage(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Usage runbooks (dropped, duplicate, rejected, wrong dimension, entitlement, the month's edge),
    read from the usage summary and the metering answers of the exception's dimension."""
    dim = f.exc.get("dimension_key")
    if not dim:
        # Only a difference of quantities is about usage; a money difference is read by the others.
        dim = _the_dimension_that_differs(f) if f.delta_qty is not None else None
        if not dim:
            return []
        # Read it as if the other tool had named the dimension (our steps read it from the exception).
        f = Facts(f.case.model_copy(update={"exception": {**f.exc, "dimension_key": dim}}))
    f = _scoped_to_contract(f)
    statuses = f.metering_statuses(dim)
    total = next((t for t in f.usage_totals() if t.get("dimension_key") == dim), None)
    difference = dec(total.get("difference")) if total else None
    gap = difference if difference else f.delta_qty
    # Entitlement, mapping and refusal explain usage that went missing or moved; when ours and the
    # partner's quantities agree and nothing was refused, they explain nothing (a rate, a fee...).
    hyps = _usage_causes(f) if gap or statuses.get("CustomerNotSubscribed") else []
    if statuses.get("Unprocessed"):
        hyps.append(_h(C.DROPPED_METERING, 0.86, f"{statuses['Unprocessed']} record(s) of {dim} were left "
                                                 "in UnprocessedRecords"))
    duplicates = statuses.get("DuplicateRecord", 0)
    if duplicates:
        hyps.append(_h(C.DUPLICATE_METERING, 0.84, f"{duplicates} record(s) of {dim} answered DuplicateRecord"))
    if not gap:
        return hyps
    facts = _with_edge_details(f)
    edge = _confined_to_edge(facts) or _moved_across_edge(facts, gap)
    if edge:
        hyps.append(_h(C.TIMING_DIFFERENCE, 0.88, edge))
    if gap < 0:
        hyps.append(_h(C.DROPPED_METERING, 0.6 if edge else 0.78,
                       f"the partner's feed shows {total.get('partner') if total else 'less'} of {dim} against our "
                       f"{total.get('ours') if total else 'usage'}"))
    else:
        hyps.append(_h(C.DUPLICATE_METERING, 0.85 if duplicates else 0.72,
                       f"the partner's feed shows {total.get('partner') if total else 'more'} of {dim} against our "
                       f"{total.get('ours') if total else 'usage'}"
                       + (f"; {duplicates} record(s) answered DuplicateRecord" if duplicates else "")))
    return hyps


def unentitled(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Entitlement mismatch runbook: the contract's agreement ended, the service kept metering,
    and the marketplace refused every record since (whatever amount the other tool reports)."""
    after = _scoped_to_contract(f).refused_after_agreement_ended()
    if not after:
        return []
    return [_h(C.ENTITLEMENT_MISMATCH, 0.9, f"{after}: usage continued without an entitlement")]


def _scoped_to_contract(f: Facts) -> Facts:
    """The facts with the contract our rules would have named (`details.contract_key`): the one
    contract of the exception's product, so that another product's lapsed agreement on the same
    account is not read as this usage's. Unchanged when the product has none or several."""
    if f.details.get("contract_key") or not f.exc.get("product_code"):
        return f
    terms = f.case.evidence.get("get_contract_terms") or {}
    keys = {str(c.get("contract_key")) for c in (terms.get("contracts") or [] if isinstance(terms, dict) else [])
            if isinstance(c, dict) and c.get("product_code") == f.exc.get("product_code")}
    if len(keys) != 1:
        return f
    scoped = Facts(f.case)
    scoped.details = {**f.details, "contract_key": keys.pop()}
    return scoped


def _the_dimension_that_differs(f: Facts) -> str | None:
    """For an exception naming a product but no dimension: the one dimension of the product whose
    usage differs from the partner's or has records the marketplace did not accept (None if not one)."""
    if not f.exc.get("product_code"):
        return None
    differing = {str(t.get("dimension_key")) for t in f.usage_totals() if dec(t.get("difference"))}
    refused = {d for d in (str(t.get("dimension_key")) for t in f.usage_totals())
               if any(k != "Success" and v for k, v in f.metering_statuses(d).items())}
    found = differing | refused
    return next(iter(found)) if len(found) == 1 else None


def _confined_to_edge(f: Facts) -> str:
    """`_gap_confined_to_edge` over the edge figures read from the summary; its words name no
    quantity computed here (a draft may only state figures the evidence holds)."""
    if not _gap_confined_to_edge(f):
        return ""
    day = (f.detail("largest_gap_days") or [{}])[0]
    return (f"the whole difference ({day.get('gap')}) falls on {day.get('day')}, within our usage of that day's "
            "edge hours: a record on the wrong side of the midnight-UTC cut-off")


def _moved_across_edge(f: Facts, gap: Decimal) -> str:
    """The gap sits on the period's first or last day and the adjacent day outside the period
    shows the opposite difference: the same usage counted on the other side of midnight UTC."""
    period = f.exc.get("period") or ""
    inside = f.detail("largest_gap_days") or []
    outside = {str(d.get("day")): dec(d.get("gap")) for d in f.detail("outside_gap_days") or []}
    for d in inside:
        day, diff = str(d.get("day")), dec(d.get("gap"))
        if diff is None or not close(diff, gap, rel=Decimal("0.1")) or (diff > 0) != (gap > 0):
            continue
        for other, other_diff in outside.items():
            neighbour = (day.endswith("-01") and other < period) or (not day.endswith("-01") and other > period)
            if neighbour and other_diff is not None and other_diff == -diff:
                return (f"the difference of {diff.normalize():f} on {day} is matched by {other_diff.normalize():f} "
                        f"on {other}: the same usage on the other side of the midnight-UTC cut-off")
    return ""


def _with_edge_details(f: Facts) -> Facts:
    """The exception's facts with the edge figures our usage rule would have computed, from the
    usage summary: the days that differ, and our quantity in the period's first and last hours."""
    summary = f.case.evidence.get("get_usage_summary") or {}
    if not isinstance(summary, dict):
        return f
    dim, product, period = f.exc.get("dimension_key"), f.exc.get("product_code"), f.exc.get("period") or ""
    days = [d for d in summary.get("daily") or [] if isinstance(d, dict) and d.get("dimension_key") == dim
            and (product is None or d.get("product_code") == product)
            and str(d.get("usage_date", "")).startswith(period) and dec(d.get("difference"))]
    around = [d for d in summary.get("daily") or [] if isinstance(d, dict) and d.get("dimension_key") == dim
              and (product is None or d.get("product_code") == product)
              and not str(d.get("usage_date", "")).startswith(period) and dec(d.get("difference"))]
    hours = [h for h in summary.get("ours_hourly") or [] if isinstance(h, dict) and h.get("dimension_key") == dim
             and (product is None or h.get("product_code") == product) and str(h.get("usage_hour", "")).startswith(period)]
    hours.sort(key=lambda h: str(h.get("usage_hour")))
    first_day = hours[0]["usage_hour"][:10] if hours else ""
    first = sum((dec(h.get("quantity")) or ZERO for h in hours if h["usage_hour"][:10] == first_day), ZERO)
    last_day = hours[-1]["usage_hour"][:10] if hours else ""
    last = sum((dec(h.get("quantity")) or ZERO for h in hours if h["usage_hour"][:10] == last_day), ZERO)
    details = {
        **f.details,
        "largest_gap_days": [{"day": d.get("usage_date"), "gap": d.get("difference")} for d in days],
        "outside_gap_days": [{"day": d.get("usage_date"), "gap": d.get("difference")} for d in around],
        "days_with_gap": len(days),
        "boundary": {"our_first_hours_quantity": str(first), "our_last_hours_quantity": str(last)},
    }
    facts = Facts(f.case)
    facts.details = details
    return facts


#: Error codes a metering API answers when it refuses usage, lower-case without spaces: AWS's
#: BatchMeterUsage statuses and exceptions, Azure's marketplace metering errors. (A duplicate is
#: refused too, but it is read as duplicate metering by the usage steps, not here.) Words as
#: general as "expired" are left out: an agreement's status says them too.
METERING_REFUSALS = frozenset({
    "customernotsubscribed", "customernotsubscribedexception", "timestampoutofbounds",
    "timestampoutofboundsexception", "invalidusagedimension", "invalidusagedimensionexception",
    "invalidproductcode", "invalidcustomeridentifier", "invalidtag", "badargument", "invaliddimension",
})


def _refusal_count(details: dict[str, Any]) -> int | None:
    """The number of events the other tool says were rejected or refused (``events_rejected: 624``)."""
    for key, value in details.items():
        number = dec(value) if any(w in key.lower() for w in ("rejected", "refused")) else None
        if number is not None and number > 0 and number == number.to_integral_value():
            return int(number)
    return None


def refused(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Rejected metering runbook, read from the marketplace's own answer as the other tool recorded
    it in the exception (an HTTP 4xx, an error code, how many events were refused): the usage was
    sent and not accepted, so it was neither lost on our side nor merely left uninvoiced."""
    if not (f.exc.get("product_code") or f.exc.get("dimension_key")) or f.channel == "direct":
        return []
    det = f.details
    count = _refusal_count(det)
    http = dec(det.get("http_status") or det.get("status_code"))
    code = next((str(det[k]) for k in ("error_code", "error", "status", "reason_code") if det.get(k)), "")
    message = next((str(det[k]) for k in ("message", "error_message", "reason") if det.get(k)), "")
    if http == 409 or "duplicate" in f"{code} {message}".lower():
        return []
    answered = (http is not None and 400 <= http < 500) or code.replace(" ", "").lower() in METERING_REFUSALS
    if not count and not answered:
        return []
    answer = " ".join(x for x in (f"{http.normalize():f}" if http is not None else "", code) if x)
    said = f" ({answer}{': ' if answer and message else ''}{message})" if answer or message else ""
    return [_h(C.REJECTED_METERING, 0.92 if count and answered else 0.8,
               f"the metering API refused {f'{count} usage event(s)' if count else 'the usage'}{said}")]


#: Words of a rejection that is about moving money, not about the invoice (a bounced payment).
_MONEY_MOVEMENT = ("payment", "transfer", "bank", "card", "debit", "wire")


def returned_invoice(f: Facts, ev: Evidence, amt: Amounts) -> list[Hypothesis]:
    """Outside the taxonomy: the customer's AP or procurement portal rejected one of our invoices,
    and the other tool recorded why (a missing PO number, a wrong address). Nothing about the
    amount is disputed and nothing is late yet: the invoice is reissued as the customer asks."""
    reason = next((str(v) for k, v in f.details.items()
                   if "reject" in k.lower() and any(w in k.lower() for w in ("reason", "message"))
                   and not any(w in k.lower() for w in _MONEY_MOVEMENT) and v), "")
    # Only our direct invoices reach a customer's AP team (a marketplace buyer pays the marketplace).
    named = [i for i in ev.invoices if ev.named(i, "invoice_number") and i.get("channel") == "direct"]
    if not reason or not named:
        return []
    number = named[0].get("invoice_number")
    if any((dec(b.get("paid")) or ZERO) > 0 for b in ev.balances if b.get("invoice_number") == number):
        return []  # part-paid: what is left open is a short payment question
    return [_h(C.OTHER, 0.8, f"the customer rejected invoice {number} ({reason}); nothing about its amount is "
                             "disputed, so it is reissued as they ask",
               resolution=Resolution(Action.REBILL, EscalateTo.CUSTOMER, "billing-ops"))]


def payer_identified(f: Facts) -> bool | None:
    """Whether the receipt the exception names came from a known customer (None: it names none)."""
    ev = Evidence.of(f)
    receipts = [p for p in ev.payments if ev.named(p, "payment_id") and not p.get("invoice_number")]
    if not receipts:
        return None
    return receipts[0].get("account_key") is not None


#: Every category's decision steps, asked in turn. Order does not matter: the scores rank.
PROBES: tuple[Probe, ...] = (forgiven, payout_failure, refunds, credits, listing_fee, tax, fx, reseller, price,
                             channel, not_invoiced, unpaid, unapplied, usage, unentitled, refused, returned_invoice)
#: What a recorded refusal of the usage explains: nothing invoiced, nothing in the partner's feed.
EXPLAINED_BY_REFUSAL = frozenset({C.MISSING_INVOICE, C.DROPPED_METERING})


def infer(f: Facts) -> list[Hypothesis]:
    """Hypotheses for an exception of a rule we do not know, from its own evidence (unsorted)."""
    ev, amt = Evidence.of(f), Amounts(f)
    hyps = [h for probe in PROBES for h in probe(f, ev, amt)]
    if any(h.category is C.REJECTED_METERING and h.score >= 0.9 for h in hyps):
        # The marketplace refused the usage: that it went uninvoiced and missing from the feed
        # are its consequences, not rival causes.
        hyps = [h for h in hyps if h.category not in EXPLAINED_BY_REFUSAL]
    hints = hinted(f)
    for h in hyps:
        if h.category in hints:
            h.score = min(0.97, h.score + HINT_BOOST)
    supported = {h.category for h in hyps if h.score >= 0.6}
    if not supported:
        hyps += [_h(c, HINT_ALONE, f"the other tool's name ({f.rule} / {f.kind}) suggests it; "
                                   "the evidence neither confirms nor rules it out") for c in sorted(hints)]
        hyps.append(_h(C.OTHER, NOTHING_SUPPORTED, f"no runbook's decision steps find support in the evidence of "
                                                   f"this {f.kind or 'difference'} from {f.rule or 'another tool'}"))
    return hyps
