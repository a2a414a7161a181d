"""Every reconciliation rule module; `register_all()` puts them into the registry.

Rule authors: add your module to the import and to `ALL_RULES`, one line each.
"""

from __future__ import annotations

from types import ModuleType

from billing.reconcile import registry
from billing.reconcile.rules import usage_vs_partner_usage
from billing.reconcile.rules import metering_not_accepted
from billing.reconcile.rules import metering_gaps
from billing.reconcile.rules import billed_rate_vs_contract
from billing.reconcile.rules import usage_without_agreement
from billing.reconcile.rules import usage_without_invoice
from billing.reconcile.rules import channel_overlap
from billing.reconcile.rules import listing_fee_vs_contract
from billing.reconcile.rules import disbursed_vs_invoiced
from billing.reconcile.rules import forgiven_charges
from billing.reconcile.rules import disbursement_integrity
from billing.reconcile.rules import refunds_vs_approvals
from billing.reconcile.rules import credits_vs_credit_notes
from billing.reconcile.rules import fx_conversion
from billing.reconcile.rules import tax_treatment
from billing.reconcile.rules import reseller_wholesale
from billing.reconcile.rules import direct_payments

ALL_RULES: list[ModuleType] = [
    usage_vs_partner_usage,
    metering_not_accepted,
    metering_gaps,
    billed_rate_vs_contract,
    usage_without_agreement,
    usage_without_invoice,
    channel_overlap,
    listing_fee_vs_contract,
    disbursed_vs_invoiced,
    forgiven_charges,
    disbursement_integrity,
    refunds_vs_approvals,
    credits_vs_credit_notes,
    fx_conversion,
    tax_treatment,
    reseller_wholesale,
    direct_payments,
]


def register_all() -> dict[str, registry.RuleFn]:
    """Register every module of `ALL_RULES` (idempotent) and return the registry."""
    for module in ALL_RULES:
        registry.register(module)
    return registry.RULES
