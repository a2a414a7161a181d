"""Reading the case: typed accessors over the exception's computed details and the evidence.

Rules and tools hand over plain JSON (decimals as strings). These helpers read it without
ever raising on a missing key — an absent signal is simply not evidence for anything.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from agent.llm.base import CaseInput
from billing import json_text
from billing.bundles.scope import at_midnight, month_bounds
from billing.money import decimal_or_none as dec


def get(obj: Any, *path: str) -> Any:
    """`obj[path[0]][path[1]]...`, None as soon as a step is missing."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def close(a: Decimal | None, b: Decimal | None, *, rel: Decimal = Decimal("0.02"), abs_: Decimal = Decimal("0.01")) -> bool:
    """Whether two amounts agree within a relative or absolute tolerance."""
    if a is None or b is None:
        return False
    return abs(abs(a) - abs(b)) <= max(abs_, rel * max(abs(a), abs(b)))


#: Channels whose contracts rest on an AWS Marketplace agreement (the agreements we hold).
AGREEMENT_CHANNELS = frozenset({"aws_marketplace", "reseller"})
#: A remittance note saying a bank took charges from the transfer (SWIFT's /CHGS/ code, "bank
#: charges", "intermediary bank", "wire fee"...): the payer's account of a short receipt.
BANK_CHARGES_RE = re.compile(r"/CHGS/|\bbank\s+(?:charges?|fees?)\b|\b(?:intermediary|correspondent)\s+bank\b"
                             r"|\b(?:wire|transfer|remittance)\s+(?:fees?|charges?)\b", re.IGNORECASE)
#: How long after its usage hour a marketplace still accepts a metering record (DOMAIN.md):
#: AWS 6 h, Azure 24 h, Google Cloud 1 h.
METERING_WINDOW = {"aws_marketplace": timedelta(hours=6), "reseller": timedelta(hours=6),
                   "azure_marketplace": timedelta(hours=24), "gcp_marketplace": timedelta(hours=1)}


def _moment(value: Any) -> datetime | None:
    """An ISO timestamp of the evidence as an aware UTC datetime (None when absent or unreadable)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class Facts:
    """The signals of one case, read once."""

    def __init__(self, case: CaseInput) -> None:
        self.case = case
        self.exc = case.exception
        self.details: dict[str, Any] = self.exc.get("details") or {}
        self.rule: str = self.exc.get("rule") or ""
        self.kind: str = self.exc.get("kind") or ""
        self.channel: str = self.exc.get("channel") or ""
        self.currency: str = self.exc.get("currency") or "USD"
        self.delta = dec(self.exc.get("delta_amount"))
        self.expected_amount = dec(self.exc.get("expected_amount"))
        self.observed = dec(self.exc.get("observed_amount"))
        self.delta_qty = dec(self.exc.get("delta_quantity"))
        self._evidence_text: str | None = None

    def amount_usd(self) -> Decimal | None:
        """|delta| in USD: as stated for a USD case, else the stake converted at the period-end
        rate (`CaseInput.stake_usd`); None when neither is known."""
        if self.delta is not None and self.currency == "USD":
            return abs(self.delta)
        return self.case.stake_usd

    def detail(self, *path: str) -> Any:
        return get(self.details, *path)

    def detail_dec(self, *path: str) -> Decimal | None:
        return dec(get(self.details, *path))

    @property
    def evidence_text(self) -> str:
        """The evidence as one string, for presence tests of enumerated values (statuses, actions)."""
        if self._evidence_text is None:
            # Only the presence of a whole JSON string is asked of this text, which neither key
            # order nor separators change: unsorted and compact is what is cheapest to make.
            self._evidence_text = json_text.dumps(self.case.evidence)
        return self._evidence_text

    def evidence_mentions(self, token: str) -> bool:
        return f'"{token}"' in self.evidence_text

    def agreement_problem(self) -> str:
        """Why the contract behind the case has no agreement in force ('' when it has, or unknown)."""
        mine, agreements = self._agreement_state()
        by_id = {a.get("agreement_id"): a for a in agreements}
        for c in mine:
            if c.get("replaced_by"):
                # Not a lost entitlement: the buyer is subscribed under the ACTIVE replacement the
                # tool names (`get_agreement_state`), and any refusal is a mapping problem.
                continue
            if c.get("agreement_id") is None and self.channel not in AGREEMENT_CHANNELS:
                continue  # another marketplace's contract: no agreement feed says anything about it
            status = str(c.get("agreement_status") or "").upper()
            if status and status != "ACTIVE":
                return f"agreement {c.get('agreement_id')} of contract {c.get('contract_key')} is {status}"
            if c.get("covers_period") is False and not self._chain_covers_period(c.get("agreement_id"), by_id):
                return f"agreement {c.get('agreement_id')} of contract {c.get('contract_key')} does not cover the period"
        return ""

    def _agreement_state(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The case's contracts (its own when the exception names one) and the account's agreements."""
        state = self.case.evidence.get("get_agreement_state") or {}
        if not isinstance(state, dict):
            return [], []
        key = self.details.get("contract_key")
        contracts = [c for c in state.get("contracts") or []
                     if isinstance(c, dict) and (key is None or c.get("contract_key") == key)]
        return contracts, [a for a in state.get("agreements") or [] if isinstance(a, dict)]

    def _not_subscribed(self) -> list[dict[str, Any]]:
        """The metering evidence's CustomerNotSubscribed rows of the case's product."""
        product = self.exc.get("product_code")
        results = self.case.evidence.get("get_metering_results") or {}
        return [r for r in (results.get("status_counts") or [] if isinstance(results, dict) else [])
                if isinstance(r, dict) and r.get("status") == "CustomerNotSubscribed"
                and (product is None or r.get("product_code") in (None, product))]

    def agreement_replaced(self) -> str:
        """How the contract's agreement was replaced by an ACTIVE one (`replaced_by` of
        `get_agreement_state`; '' when none was): the buyer is subscribed under the replacement,
        and a refusal of our metering is a stale customer mapping (rejected metering runbook,
        decision step 1)."""
        contracts, agreements = self._agreement_state()
        starts = {a.get("agreement_id"): _moment(a.get("start_time")) for a in agreements}
        for c in contracts:
            if successor := c.get("replaced_by"):
                since = starts.get(successor)
                return (f"agreement {c.get('agreement_id')} of contract {c.get('contract_key')} was replaced by "
                        f"{successor}" + (f" from {_iso(since)}" if since else ""))
        return ""

    def refused_while_subscribed(self) -> str:
        """Why AWS's CustomerNotSubscribed answers have no cause on our side ('' when they may):
        the contract's agreement is ACTIVE, covers the period and was not replaced, so our mapping
        has had no reason to go stale. The runbook's resolution for a customer not subscribed by
        mistake: the account manager asks them to re-subscribe, and the held usage is resent."""
        if not self._not_subscribed() or self.channel not in AGREEMENT_CHANNELS:
            return ""
        if self.agreement_problem() or self.agreement_replaced():
            return ""
        contracts, _ = self._agreement_state()
        in_force = [c for c in contracts if str(c.get("agreement_status") or "").upper() == "ACTIVE"
                    and c.get("covers_period") is True]
        if not in_force or len(in_force) != len(contracts):
            return ""
        c = in_force[0]
        return f"agreement {c.get('agreement_id')} of contract {c.get('contract_key')} is ACTIVE and was not replaced"

    def failed_payout_of_case(self) -> str:
        """The payout that carried the case's invoices came back: a DISBURSEMENT_FAILURE row reverses
        the payout their DISBURSED rows point to ('' when none did).

        A failure row elsewhere on the account says nothing about this case's money; one that
        reverses this case's own payout is why nothing arrived (the disbursement failure runbook)."""
        result = self.case.evidence.get("get_partner_billing_events") or {}
        events = [e for e in (result.get("events") or [] if isinstance(result, dict) else []) if isinstance(e, dict)]
        named = {str(i) for i in (self.exc.get("record_refs") or {}).get("billing_events") or []}
        invoices = {str(i) for i in (self.details.get("invoice_ids") or [])} | {
            str(e.get("invoice_id")) for e in events if e.get("billing_event_id") in named and e.get("invoice_id")}
        payouts = {e.get("disbursement_billing_event_id") for e in events
                   if str(e.get("action") or "").upper() == "DISBURSED" and str(e.get("invoice_id")) in invoices
                   and e.get("disbursement_billing_event_id")}
        for e in events:
            if str(e.get("transaction_type") or "").upper() != "DISBURSEMENT_FAILURE":
                continue
            reversed_payout = e.get("parent_billing_event_id") or e.get("disbursement_billing_event_id")
            if reversed_payout in payouts:
                return (f"payout {reversed_payout}, which carried invoice(s) {', '.join(sorted(invoices))}, came back "
                        f"(DISBURSEMENT_FAILURE {e.get('billing_event_id')} of {e.get('amount')} {e.get('currency')})")
        return ""

    def refused_after_agreement_ended(self) -> str:
        """How the marketplace refused our metering of the product from the moment the contract's
        lapsed agreement ended ('' when it did not, or when no agreement lapsed).

        The entitlement runbook's symptom: the service kept running and metering after the buyer's
        agreement ended, and AWS answers CustomerNotSubscribed for every hour since. Refusals that
        began before the agreement ended have another cause (a stale customer mapping)."""
        if not self.agreement_problem():
            return ""
        contracts, agreements = self._agreement_state()
        ends = {a.get("agreement_id"): _moment(a.get("end_time")) for a in agreements}
        firsts = [first for r in self._not_subscribed() if (first := _moment(r.get("first_timestamp"))) is not None]
        if not firsts:
            return ""
        since = min(firsts)
        for c in contracts:
            ended = ends.get(c.get("agreement_id"))
            if ended is not None and since >= ended:
                # Only the evidence's own figures: a draft may quote this reason.
                return (f"the marketplace answered CustomerNotSubscribed from {_iso(since)}, after agreement "
                        f"{c.get('agreement_id')} ended at {_iso(ended)}")
        return ""

    def _chain_covers_period(self, agreement_id: Any, by_id: dict[Any, dict[str, Any]]) -> bool:
        """Whether the agreement and the ones it replaced, each starting where the one before it
        ended, cover the whole period: an offer amended mid-period is no gap in the entitlement."""
        agreement = by_id.get(agreement_id)
        if agreement is None:
            return False
        try:
            bounds = tuple(at_midnight(d) for d in month_bounds(str(self.exc.get("period") or "")))
        except ValueError:  # no readable period: nothing to judge coverage against
            return False
        end = _moment(agreement.get("end_time"))
        if end is not None and end < bounds[1]:
            return False
        start, seen = _moment(agreement.get("start_time")), {agreement.get("agreement_id")}
        previous = by_id.get(agreement.get("preceding_agreement_id"))
        while start is not None and start > bounds[0] and previous is not None:
            if previous.get("agreement_id") in seen or _moment(previous.get("end_time")) != start:
                return False  # a loop, or a gap or overlap between the two
            seen.add(previous.get("agreement_id"))
            start = _moment(previous.get("start_time"))
            previous = by_id.get(previous.get("preceding_agreement_id"))
        return start is not None and start <= bounds[0]

    def metering_window_open(self) -> bool:
        """Whether the oldest missing hour could still be sent when the exception was last seen.

        That is the reconciliation run that reported it; a nightly batch triages minutes later,
        and a resend after the window closes is only refused, never double-billed (DOMAIN.md).
        The oldest hour is the rule's `first_hour`, else the oldest record the marketplace did
        not accept for the dimension."""
        window = METERING_WINDOW.get(self.channel)
        seen = _moment(get(self.case.evidence, "get_exception", "last_seen_at") or self.exc.get("last_seen_at"))
        oldest = _moment(self.details.get("first_hour"))
        if oldest is None:
            results = get(self.case.evidence, "get_metering_results", "results") or []
            dim = self.exc.get("dimension_key")
            hours = [_moment(r.get("timestamp")) for r in results if isinstance(r, dict)
                     and r.get("status") != "Success" and (dim is None or r.get("dimension") == dim)]
            oldest = min((h for h in hours if h is not None), default=None)
        return window is not None and seen is not None and oldest is not None and timedelta(0) <= seen - oldest < window

    def bank_charges_noted(self) -> bool:
        """Whether a payment the exception names (by id or invoice) carries a remittance note
        saying bank charges were taken from it."""
        refs = self.exc.get("record_refs") or {}
        named = {str(r) for key in ("payments", "invoices") for r in refs.get(key) or []}
        payments = get(self.case.evidence, "get_payments_and_disbursements", "payments") or []
        return any(isinstance(p, dict) and (str(p.get("payment_id")) in named or str(p.get("invoice_number")) in named)
                   and BANK_CHARGES_RE.search(str(p.get("remittance_note") or "")) for p in payments)

    def usage_totals(self) -> list[dict[str, Any]]:
        """Per-dimension totals (ours, partner's) of the case's product, from the usage summary."""
        summary = self.case.evidence.get("get_usage_summary") or {}
        totals = summary.get("totals") or [] if isinstance(summary, dict) else []
        product = self.exc.get("product_code")
        return [t for t in totals if isinstance(t, dict) and (product is None or t.get("product_code") == product)]

    def dimension_mix_shift(self) -> str:
        """Quantity moved between dimensions: differences that cancel out over the product ('' if not)."""
        diffs = [(t.get("dimension_key"), dec(t.get("difference"))) for t in self.usage_totals()]
        moved = [(d, q) for d, q in diffs if q]
        if len(moved) < 2:
            return ""
        net = sum((q for _, q in moved), Decimal(0))
        largest = max(abs(q) for _, q in moved)
        if abs(net) <= largest * Decimal("0.01"):
            parts = ", ".join(f"{d} {q.normalize():f}" for d, q in moved)
            return f"the product's dimension differences cancel out ({parts})"
        return ""

    def metering_statuses(self, dimension: str | None = None) -> dict[str, int]:
        """Records per metering status (of one dimension when given), from the metering evidence."""
        results = self.case.evidence.get("get_metering_results") or {}
        counts: dict[str, int] = {}
        for row in (results.get("status_counts") or []) if isinstance(results, dict) else []:
            if dimension and row.get("dimension") not in (None, dimension):
                continue
            counts[row.get("status", "")] = counts.get(row.get("status", ""), 0) + int(row.get("records") or 0)
        return counts

    def record_ids(self) -> list[str]:
        refs = self.exc.get("record_refs") or {}
        return [str(r) for kind in sorted(refs) for r in refs[kind]]
