"""Every table of the product; importing this package registers them all on `Base.metadata`."""

from billing.models.base import CHANNEL_VALUES, Base, Channel, utcnow
from billing.models.contracts import Agreement, Contract, ContractRate
from billing.models.correspondence import Message
from billing.models.exceptions import Discrepancy, ExceptionStatus
from billing.models.ingest import IngestBatch
from billing.models.invoicing import CreditNote, FxRate, Invoice, InvoiceLine, Payment, RefundRequest
from billing.models.parties import Account, Dimension, Product
from billing.models.partner_billing import BillingEvent
from billing.models.triage import (
    AuditEvent, CaseExample, Notification, NotificationStatus, ReviewDecisionKind, ReviewItem, ReviewStatus,
    RunStatus, TriageRun,
)
from billing.models.usage import MeteringResult, PartnerUsage, UsageRecord

__all__ = [
    "CHANNEL_VALUES", "Account", "Agreement", "Base", "BillingEvent", "Channel", "Contract",
    "ContractRate", "CreditNote", "Dimension", "Discrepancy", "ExceptionStatus", "FxRate",
    "IngestBatch", "Invoice", "InvoiceLine", "Message", "MeteringResult", "PartnerUsage",
    "Payment", "Product", "RefundRequest", "UsageRecord", "utcnow",
    "AuditEvent", "CaseExample", "Notification", "NotificationStatus", "ReviewDecisionKind", "ReviewItem", "ReviewStatus", "RunStatus",
    "TriageRun",
]
