"""Import: a case bundle into a database, upserting every record by its natural key.

The exception is created with ``source="import"`` (an exception already there is updated).
Everything happens in the caller's transaction: an error leaves nothing half-written when
the caller rolls back (`triage import-cases` does). Errors name the JSON path at fault.

Usage and metering arrive as summaries; `billing.bundles.balance` loads them, adding tagged
*balancing rows* so that exporting the imported case gives the same bundle again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.bundles.balance import BALANCING_PREFIX, load_metering, load_usage
from billing.bundles.fetch.usage import boundary_ranges, hours_named_in
from billing.bundles.schema import CaseBundle
from billing.bundles.scope import BOUNDARY_HOURS, CaseScope, at_midnight, month_bounds
from billing.bundles.upsert import BundleLoadError, upsert
from billing.models import (
    Account,
    Agreement,
    BillingEvent,
    Contract,
    ContractRate,
    CreditNote,
    Dimension,
    Discrepancy,
    FxRate,
    Invoice,
    InvoiceLine,
    Message,
    PartnerUsage,
    Payment,
    Product,
    RefundRequest,
    utcnow,
)

__all__ = ["BALANCING_PREFIX", "load_bundle"]


def load_bundle(session: Session, bundle: CaseBundle) -> int:
    """Upsert every record of `bundle` by natural key and the exception itself; return its id."""
    return _Loader(session, bundle).run()


class _Loader:
    def __init__(self, session: Session, bundle: CaseBundle) -> None:
        self.session = session
        self.b = bundle
        self.accounts: dict[str, Account] = {}
        self.products: dict[str, Product] = {}
        self.contracts: dict[str, Contract] = {}

    def run(self) -> int:
        self._check_consistency()
        self._accounts()
        self._products()
        self._contracts()
        self._agreements()
        self._usage()
        self._partner_usage()
        self._metering()
        self._billing_events()
        self._invoices()
        self._credit_notes_refunds_payments()
        self._fx_rates()
        exception = self._exception()
        self._messages(exception)
        self._history()
        self.session.flush()
        return exception.id

    # -- references --------------------------------------------------------------------

    def _check_consistency(self) -> None:
        b = self.b
        if b.account is not None and b.exception.account_key not in (None, b.account.account_key):
            raise BundleLoadError("$.exception.account_key", f"{b.exception.account_key!r} is not the bundle's "
                                  f"account {b.account.account_key!r}")
        if b.account is None and b.exception.account_key is not None:
            raise BundleLoadError("$.account", f"missing: the exception names account {b.exception.account_key!r}")

    def _account_id(self, key: str | None, path: str) -> int | None:
        if key is None:
            return None
        if key not in self.accounts:
            account = self.session.scalar(select(Account).where(Account.account_key == key))
            if account is None:
                raise BundleLoadError(path, f"account {key!r} is neither the bundle's account nor in the database")
            self.accounts[key] = account
        return self.accounts[key].id

    def _required_account_id(self, key: str, path: str) -> int:
        account_id = self._account_id(key, path)
        assert account_id is not None
        return account_id

    def _product_id(self, code: str, path: str) -> int:
        if code not in self.products:
            product = self.session.scalar(select(Product).where(Product.product_code == code))
            if product is None:
                raise BundleLoadError(path, f"product {code!r} is neither in the bundle's products nor in the database")
            self.products[code] = product
        return self.products[code].id

    def _contract_id(self, key: str | None, path: str) -> int | None:
        if key is None:
            return None
        if key not in self.contracts:
            contract = self.session.scalar(select(Contract).where(Contract.contract_key == key))
            if contract is None:
                raise BundleLoadError(path, f"contract {key!r} is neither in the bundle's contracts nor in the database")
            self.contracts[key] = contract
        return self.contracts[key].id

    # -- parties and terms -----------------------------------------------------------------

    def _accounts(self) -> None:
        if self.b.account is None:
            return
        a = self.b.account
        found = upsert(self.session, Account, ["account_key"], [("$.account", a.model_dump())])
        self.accounts.update({str(k): v for k, v in found.items()})

    def _products(self) -> None:
        rows = [(f"$.products[{i}]", p.model_dump(exclude={"dimensions"})) for i, p in enumerate(self.b.products)]
        for path, values in rows:
            mp_id = values["marketplace_product_id"]
            if mp_id:
                other = self.session.scalar(select(Product.product_code).where(
                    Product.marketplace_product_id == mp_id, Product.product_code != values["product_code"]))
                if other is not None:
                    raise BundleLoadError(f"{path}.marketplace_product_id",
                                          f"{mp_id!r} already belongs to product {other!r} in the database")
        found = upsert(self.session, Product, ["product_code"], rows)
        self.products.update({str(k): v for k, v in found.items()})
        dims = [(f"$.products[{i}].dimensions[{j}]", {"product_id": found[p.product_code].id, **d.model_dump()})
                for i, p in enumerate(self.b.products) for j, d in enumerate(p.dimensions)]
        upsert(self.session, Dimension, ["product_id", "key"], dims)

    def _contracts(self) -> None:
        rows = []
        for i, c in enumerate(self.b.contracts):
            path = f"$.contracts[{i}]"
            values = c.model_dump(exclude={"rates", "account_key", "product_code"})
            values["account_id"] = self._required_account_id(c.account_key, f"{path}.account_key")
            values["product_id"] = self._product_id(c.product_code, f"{path}.product_code")
            rows.append((path, values))
        found = upsert(self.session, Contract, ["contract_key"], rows)
        self.contracts.update({str(k): v for k, v in found.items()})
        for i, c in enumerate(self.b.contracts):
            contract = found[c.contract_key]
            wanted = {r.dimension_key for r in c.rates}
            for stale in self.session.scalars(select(ContractRate).where(
                    ContractRate.contract_id == contract.id, ContractRate.dimension_key.not_in(sorted(wanted)))):
                self.session.delete(stale)  # the bundle's rates are the contract's whole price list
            self.session.flush()
            upsert(self.session, ContractRate, ["contract_id", "dimension_key"],
                   [(f"$.contracts[{i}].rates[{j}]", {"contract_id": contract.id, **r.model_dump()})
                    for j, r in enumerate(c.rates)])

    def _agreements(self) -> None:
        rows = []
        for i, a in enumerate(self.b.agreements):
            values = a.model_dump(exclude={"account_key"})
            values["account_id"] = self._account_id(a.account_key, f"$.agreements[{i}].account_key")
            rows.append((f"$.agreements[{i}]", values))
        upsert(self.session, Agreement, ["agreement_id"], rows)

    # -- usage and metering ------------------------------------------------------------

    def _scope(self) -> CaseScope:
        e = self.b.exception
        return CaseScope(period=e.period, account_id=None, account=self.b.account, details=e.details)

    def _usage(self) -> None:
        usage = self.b.usage
        if usage is None or (not usage.daily and not usage.hourly):
            return
        if self.b.account is None:
            raise BundleLoadError("$.usage", "usage needs the bundle's account")
        account_id = self._required_account_id(self.b.account.account_key, "$.account")
        load_usage(self.session, usage, account_id, self._hours_shown_by_export())

    def _hours_shown_by_export(self) -> set[datetime]:
        # The hours an export of this case lists one by one; balancing rows must stay out of them.
        scope = self._scope()
        hours = set(hours_named_in(scope.details, scope))
        for lo, hi in boundary_ranges(scope, BOUNDARY_HOURS):
            hours.update(lo + timedelta(hours=h) for h in range(int((hi - lo).total_seconds() // 3600)))
        return hours

    def _metering(self) -> None:
        section = self.b.metering
        if not section.results and not section.status_counts:
            return
        account = self.b.account
        refs = [r for r in (account.aws_customer_identifier, account.aws_account_id) if r] if account else []
        if section.status_counts and not refs:
            raise BundleLoadError("$.account", "metering counts need the account's aws_customer_identifier "
                                  "or aws_account_id")
        start, end = (at_midnight(d) for d in month_bounds(self.b.exception.period))
        load_metering(self.session, section, refs or [section.results[0].customer_ref], (start, end))

    def _partner_usage(self) -> None:
        rows = [(f"$.partner_usage[{i}]", r.model_dump(exclude={"id"})) for i, r in enumerate(self.b.partner_usage)]
        upsert(self.session, PartnerUsage,
               ["usage_date", "product_id", "end_user_account_id", "dimension_key", "region", "offer_id"], rows)

    # -- money ---------------------------------------------------------------------------

    def _billing_events(self) -> None:
        rows = [(f"$.billing_events[{i}]", {**e.model_dump(), "delete_date": None})
                for i, e in enumerate(self.b.billing_events)]
        upsert(self.session, BillingEvent, ["billing_event_id"], rows)

    def _invoices(self) -> None:
        rows = []
        for i, inv in enumerate(self.b.invoices):
            path = f"$.invoices[{i}]"
            values = inv.model_dump(exclude={"lines", "account_key", "contract_key"})
            values["account_id"] = self._required_account_id(inv.account_key, f"{path}.account_key")
            values["contract_id"] = self._contract_id(inv.contract_key, f"{path}.contract_key")
            rows.append((path, values))
        found = upsert(self.session, Invoice, ["invoice_number"], rows)
        for i, inv in enumerate(self.b.invoices):
            invoice = found[inv.invoice_number]
            wanted = {line.line_no for line in inv.lines}
            for stale in self.session.scalars(select(InvoiceLine).where(
                    InvoiceLine.invoice_id == invoice.id, InvoiceLine.line_no.not_in(sorted(wanted)))):
                self.session.delete(stale)  # the bundle's lines are the invoice's whole content
            self.session.flush()
            upsert(self.session, InvoiceLine, ["invoice_id", "line_no"],
                   [(f"$.invoices[{i}].lines[{j}]", {"invoice_id": invoice.id, **line.model_dump()})
                    for j, line in enumerate(inv.lines)])

    def _credit_notes_refunds_payments(self) -> None:
        for model, field, items, key in (
            (CreditNote, "credit_notes", self.b.credit_notes, "credit_note_number"),
            (RefundRequest, "refund_requests", self.b.refund_requests, "request_id"),
            (Payment, "payments", self.b.payments, "payment_id"),
        ):
            rows = []
            for i, item in enumerate(items):
                values = item.model_dump(exclude={"account_key"})
                values["account_id"] = self._account_id(item.account_key, f"$.{field}[{i}].account_key")
                rows.append((f"$.{field}[{i}]", values))
            upsert(self.session, model, [key], rows)

    def _fx_rates(self) -> None:
        upsert(self.session, FxRate, ["rate_date", "currency"],
               [(f"$.fx_rates[{i}]", r.model_dump()) for i, r in enumerate(self.b.fx_rates)])

    # -- the case ------------------------------------------------------------------------

    def _exception(self) -> Discrepancy:
        e = self.b.exception
        now = utcnow()
        values = e.model_dump(exclude={"account_key"}, mode="python")
        values["account_id"] = self._account_id(e.account_key, "$.exception.account_key")
        # Amounts and ids inside the JSON columns stay as the bundle wrote them.
        values["record_refs"] = e.model_dump(mode="json")["record_refs"]
        values["details"] = e.model_dump(mode="json")["details"]
        for stamp in ("first_seen_at", "last_seen_at", "updated_at"):
            values[stamp] = values[stamp] or now
        existing = self.session.scalar(select(Discrepancy).where(Discrepancy.natural_key == e.natural_key))
        if existing is None:
            existing = Discrepancy(source="import", **values)
            self.session.add(existing)
        else:
            for name, value in values.items():
                setattr(existing, name, value)
        self.session.flush()
        return existing

    def _messages(self, exception: Discrepancy) -> None:
        rows = []
        for i, m in enumerate(self.b.messages):
            values = m.model_dump(exclude={"account_key", "linked_to_case"})
            values["account_id"] = self._account_id(m.account_key, f"$.messages[{i}].account_key")
            rows.append((f"$.messages[{i}]", values))
        found = upsert(self.session, Message, ["message_id"], rows)
        for m in self.b.messages:
            if m.linked_to_case:
                found[m.message_id].exception_id = exception.id
            # An unlinked message keeps any link it has to another exception.

    def _history(self) -> None:
        account_id = self._account_id(self.b.exception.account_key, "$.exception.account_key")
        now = utcnow()
        rows = []
        for i, h in enumerate(self.b.history):
            if h.natural_key == self.b.exception.natural_key:
                raise BundleLoadError(f"$.history[{i}].natural_key", "the case itself cannot be in its history")
            values: dict[str, Any] = h.model_dump(exclude={"resolution"})
            values.update(account_id=account_id, record_refs={}, details={}, evidence_hash="", source="import",
                          first_seen_at=now, last_seen_at=now, updated_at=now)
            rows.append((f"$.history[{i}]", values))
        # An earlier exception already in the database is richer than its summary here: keep it.
        upsert(self.session, Discrepancy, ["natural_key"], rows, update=False)
