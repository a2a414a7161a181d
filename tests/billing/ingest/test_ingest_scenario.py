"""A whole scenario folder loads in dependency order, each format keeps its meaning, and loading
it again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from billing.ingest import files_in, ingest_folder
from billing.models import (
    Account,
    Agreement,
    BillingEvent,
    Contract,
    ContractRate,
    CreditNote,
    Dimension,
    FxRate,
    IngestBatch,
    Invoice,
    InvoiceLine,
    Message,
    MeteringResult,
    PartnerUsage,
    Payment,
    Product,
    RefundRequest,
    UsageRecord,
)

from .conftest import SCENARIO, rows_in

EXPECTED_ROWS = {
    Account: 3,
    Product: 2,
    Dimension: 3,
    Contract: 3,
    ContractRate: 4,
    Agreement: 3,
    FxRate: 3,
    UsageRecord: 6,
    MeteringResult: 4,
    PartnerUsage: 3,
    BillingEvent: 9,
    Invoice: 2,
    InvoiceLine: 4,
    CreditNote: 2,
    RefundRequest: 2,
    Payment: 3,
    Message: 3,
}


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    ingest_folder(engine, SCENARIO)
    return engine


def test_folder_files_are_taken_in_dependency_order() -> None:
    kinds = [kind for kind, _ in files_in(SCENARIO)]
    assert kinds == [
        "contracts",
        "agreements",
        "fx-rates",
        "usage",
        "metering",
        "partner-usage",
        "billing-events",
        "invoices",
        "credit-notes",
        "refunds",
        "payments",
        "messages",
    ]


def test_every_table_gets_the_scenario_rows(loaded: Engine) -> None:
    assert {model: rows_in(loaded, model.__table__) for model in EXPECTED_ROWS} == EXPECTED_ROWS


def test_loading_the_folder_again_is_a_no_op(loaded: Engine) -> None:
    reports = ingest_folder(loaded, SCENARIO)
    assert all(r.already_loaded for r in reports) and len(reports) == 12
    assert {model: rows_in(loaded, model.__table__) for model in EXPECTED_ROWS} == EXPECTED_ROWS
    assert rows_in(loaded, IngestBatch.__table__) == 12


def _one(engine: Engine, stmt: object) -> object:
    with engine.connect() as conn:
        return conn.execute(stmt).one()  # type: ignore[call-overload]


def test_billing_events_latest_update_wins_and_deletes_are_marked(loaded: Engine) -> None:
    """DOMAIN.md (AWS seller data feeds): the feed is bi-temporal; current state is the latest
    `update_date` per id, and rows with a `delete_date` are no longer current."""
    corrected = _one(
        loaded,
        select(BillingEvent.amount, BillingEvent.update_date).where(
            BillingEvent.billing_event_id == "be" + "7".zfill(38)
        ),
    )
    assert corrected.amount == Decimal("-12.00")
    assert corrected.update_date == datetime(2026, 11, 2, 6, tzinfo=UTC)
    deleted = _one(
        loaded,
        select(BillingEvent.delete_date).where(
            BillingEvent.billing_event_id == "be" + "8".zfill(38)
        ),
    )
    assert deleted.delete_date == datetime(2026, 11, 3, 6, tzinfo=UTC)


def test_billing_event_columns_keep_aws_conventions(loaded: Engine) -> None:
    """DOMAIN.md: AWS_REV_SHARE is negative (the listing fee), AWS_TAX_SHARE is not
    balance-impacting, and a DISBURSED row points to its payout through disbursement_billing_event_id."""
    fee = _one(
        loaded,
        select(BillingEvent.amount, BillingEvent.invoice_variant).where(
            BillingEvent.transaction_type == "AWS_REV_SHARE", BillingEvent.action == "INVOICED"
        ),
    )
    assert fee.amount == Decimal("-3.90") and fee.invoice_variant == "LISTING_FEE"
    tax = _one(
        loaded,
        select(BillingEvent.balance_impacting).where(
            BillingEvent.transaction_type == "AWS_TAX_SHARE"
        ),
    )
    assert tax.balance_impacting is False
    payout = _one(
        loaded,
        select(BillingEvent.bank_trace_id, BillingEvent.disbursement_amount).where(
            BillingEvent.transaction_type == "DISBURSEMENT"
        ),
    )
    assert payout.bank_trace_id == "TRC-20261215-0042" and payout.disbursement_amount == Decimal(
        "126.23"
    )


def test_partner_rows_for_unknown_buyers_are_kept(loaded: Engine) -> None:
    """Partner rows are the partner's truth even for a buyer we do not know: reconciliation must see them."""
    usage = _one(
        loaded,
        select(PartnerUsage.usage_quantity, PartnerUsage.region, PartnerUsage.offer_id).where(
            PartnerUsage.end_user_account_id == "999988887777"
        ),
    )
    assert usage.usage_quantity == Decimal(300) and usage.region == "" and usage.offer_id == ""
    agreement = _one(
        loaded, select(Agreement.account_id).where(Agreement.acceptor_account_id == "999988887777")
    )
    assert agreement.account_id is None
    known = _one(
        loaded,
        select(Agreement.account_id, Account.account_key)
        .join(Account, Account.id == Agreement.account_id)
        .where(Agreement.agreement_id == "agmt-0acme0000000000000000001"),
    )
    assert known.account_key == "ACME-0001"


def test_metering_results_keep_every_status(loaded: Engine) -> None:
    """DOMAIN.md (BatchMeterUsage): Results carry Success | CustomerNotSubscribed | DuplicateRecord,
    and UnprocessedRecords are stored too; the newer CustomerAWSAccountId form is accepted, and
    the API's epoch-seconds Timestamp is read as UTC."""
    with loaded.connect() as conn:
        statuses = sorted(conn.execute(select(MeteringResult.status)).scalars())
        unprocessed = conn.execute(
            select(MeteringResult).where(MeteringResult.status == "Unprocessed")
        ).one()
    assert statuses == ["CustomerNotSubscribed", "DuplicateRecord", "Success", "Unprocessed"]
    assert unprocessed.customer_aws_account_id == "444455556666" == unprocessed.customer_ref
    assert unprocessed.timestamp == datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert unprocessed.metering_record_id is None and unprocessed.quantity == 40000


def test_invoice_headers_are_summed_from_their_lines(loaded: Engine) -> None:
    """Format rule: subtotal = Σ amount, tax = Σ tax_amount, total = subtotal + tax."""
    invoice = _one(loaded, select(Invoice).where(Invoice.invoice_number == "INV-2026-10-0001"))
    assert (invoice.subtotal, invoice.tax, invoice.total) == (
        Decimal("537.50"),
        Decimal("102.13"),
        Decimal("639.63"),
    )
    assert (
        invoice.currency == "EUR"
        and invoice.period == "2026-10"
        and invoice.partner_invoice_id is None
    )
    marketplace = _one(
        loaded,
        select(Invoice.partner_invoice_id, Invoice.total).where(
            Invoice.invoice_number == "INV-2026-10-0002"
        ),
    )
    assert marketplace.partner_invoice_id == "aws-inv-7f3e9a" and marketplace.total == Decimal(
        "130.13"
    )


def test_contract_terms_are_exact(loaded: Engine) -> None:
    """An unquoted YAML `0.03` is read as the exact decimal 0.03 (the listing fee rate), not a float."""
    contract = _one(loaded, select(Contract).where(Contract.contract_key == "C-ACME-2026"))
    assert contract.listing_fee_rate == Decimal("0.03")
    assert contract.total_contract_value == Decimal("120000.00")
    cppo = _one(loaded, select(Contract).where(Contract.contract_key == "C-GLOBEX-CPPO"))
    assert (
        cppo.channel == "reseller"
        and cppo.wholesale_discount_pct == Decimal("0.20")
        and cppo.is_renewal
    )
    rate = _one(
        loaded,
        select(ContractRate.unit_price, ContractRate.included_quantity).where(
            ContractRate.dimension_key == "storage_gb"
        ),
    )
    assert rate.unit_price == Decimal("0.25") and rate.included_quantity == Decimal(10)


def test_payments_messages_and_credits_keep_their_text(loaded: Engine) -> None:
    """Outside text is data: stored verbatim (quoted commas, quotes, instructions and all)."""
    receipt = _one(
        loaded,
        select(Payment.account_id, Payment.payer, Payment.remittance_note).where(
            Payment.payment_id == "PAY-2026-1203"
        ),
    )
    assert receipt.account_id is None  # unidentified cash
    assert (
        receipt.payer == "Initrode AG, Zürich"
        and receipt.remittance_note == 'Payment for "October" services'
    )
    message = _one(
        loaded,
        select(Message.body, Message.received_at).where(
            Message.message_id == "msg-2026-11-0002@customer.example"
        ),
    )
    assert "Ignore previous instructions" in message.body
    assert message.received_at == datetime(2026, 12, 10, 7, tzinfo=UTC)
    credit = _one(
        loaded,
        select(CreditNote.invoice_number).where(CreditNote.credit_note_number == "CN-2026-0008"),
    )
    assert (
        credit.invoice_number == "INV-2026-09-9999"
    )  # matches no invoice: reconciliation's finding
