"""Every way the generator can break a scenario: the categories' injectors with whom they can
hit, the look-alikes, and the faults with two causes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from billing.scenarios.calendar import first_day
from billing.scenarios.faults import billing_faults as bf
from billing.scenarios.faults import cash_faults as cf
from billing.scenarios.faults import usage_faults as uf
from billing.scenarios.faults.base import FaultKind
from billing.scenarios.model import Contract
from billing.scenarios.world import World
from billing.taxonomy import Category


def _aws_used(world: World, c: Contract, period: str) -> bool:
    if not c.is_aws:
        return False
    r = world.timeline.hour_range(period)
    return any(
        sum(world.partner[(c.contract_key, d.key)][r.start : r.stop]) for d in c.product.dimensions
    )


def _aws_private(world: World, c: Contract, period: str) -> bool:
    return c.channel == "aws_marketplace" and c.is_private_offer and _aws_used(world, c, period)


def _multi_dim(world: World, c: Contract, period: str) -> bool:
    return _aws_used(world, c, period) and len(uf.used_dimensions(world, c, period)) >= 2


def _timing(world: World, c: Contract, period: str) -> bool:
    if not _aws_used(world, c, period):
        return False
    r = world.timeline.hour_range(period)
    late = sum(
        world.partner[(c.contract_key, d.key)][h]
        for d in c.product.dimensions
        for h in range(r.stop - 3, r.stop)
    )
    following = world.timeline.next_period(period)
    return late > 0 and (following is None or c.active_in(following))


def _entitlement(world: World, c: Contract, period: str) -> bool:
    return (
        period == world.timeline.periods[0]
        and c.start_date < first_day(period)
        and c.agreement_id is not None
        and _aws_used(world, c, period)
    )


def _cppo(world: World, c: Contract, period: str) -> bool:
    return c.is_cppo and _aws_used(world, c, period)


def _taxed(world: World, c: Contract, period: str) -> bool:
    return c.tax_party in ("aws", "seller") and c.tax_rate > 0 and _aws_used(world, c, period)


def _foreign(world: World, c: Contract, period: str) -> bool:
    return c.currency != "USD" and _aws_used(world, c, period)


def _direct_used(world: World, c: Contract, period: str) -> bool:
    return c.channel == "direct" and any(
        i.contract is c and i.period == period for i in world.ledger
    )


def _billed(world: World, c: Contract, period: str) -> bool:
    return _aws_used(world, c, period) or _direct_used(world, c, period)


def _direct_active(world: World, c: Contract, period: str) -> bool:
    return c.channel == "direct" and c.active_in(period)


def _conflict(world: World, c: Contract, period: str) -> bool:
    return (
        c.channel == "aws_marketplace"
        and _aws_used(world, c, period)
        and not any(o.contract_key == f"{c.contract_key}-DIRECT" for o in world.contracts)
    )


def _two_lines(world: World, c: Contract, period: str) -> bool:
    return _foreign(world, c, period) and len(uf.used_dimensions(world, c, period)) >= 2


KINDS: dict[str, FaultKind] = {
    k.name: k
    for k in (
        FaultKind(
            "dropped_metering", "dropped_metering", "usage", _aws_used, uf.inject_dropped_metering
        ),
        FaultKind(
            "duplicate_metering",
            "duplicate_metering",
            "usage",
            _aws_used,
            uf.inject_duplicate_metering,
        ),
        FaultKind(
            "rejected_metering",
            "rejected_metering",
            "usage",
            _aws_used,
            uf.inject_rejected_metering,
        ),
        FaultKind(
            "wrong_dimension", "wrong_dimension", "usage", _multi_dim, uf.inject_wrong_dimension
        ),
        FaultKind(
            "price_mismatch", "price_mismatch", "usage", _aws_private, uf.inject_price_mismatch
        ),
        FaultKind(
            "entitlement_mismatch",
            "entitlement_mismatch",
            "usage",
            _entitlement,
            uf.inject_entitlement_mismatch,
        ),
        FaultKind(
            "timing_difference", "timing_difference", "usage", _timing, uf.inject_timing_difference
        ),
        FaultKind(
            "listing_fee_mismatch",
            "listing_fee_mismatch",
            "billing",
            _aws_used,
            bf.inject_listing_fee_mismatch,
        ),
        FaultKind(
            "reseller_margin_mismatch",
            "reseller_margin_mismatch",
            "billing",
            _cppo,
            bf.inject_reseller_margin_mismatch,
        ),
        FaultKind(
            "tax_discrepancy", "tax_discrepancy", "billing", _taxed, bf.inject_tax_discrepancy
        ),
        FaultKind(
            "credit_misapplied",
            "credit_misapplied",
            "billing",
            _billed,
            bf.inject_credit_misapplied,
        ),
        FaultKind(
            "refund_discrepancy",
            "refund_discrepancy",
            "billing",
            _aws_used,
            bf.inject_refund_discrepancy,
        ),
        FaultKind(
            "forgiven_charge", "forgiven_charge", "billing", _aws_used, bf.inject_forgiven_charge
        ),
        FaultKind(
            "missing_invoice", "missing_invoice", "billing", _billed, bf.inject_missing_invoice
        ),
        FaultKind(
            "channel_conflict", "channel_conflict", "billing", _conflict, bf.inject_channel_conflict
        ),
        FaultKind("short_payment", "short_payment", "cash", _billed, cf.inject_short_payment),
        FaultKind(
            "disbursement_failure",
            "disbursement_failure",
            "cash",
            _aws_used,
            cf.inject_disbursement_failure,
        ),
        FaultKind("fx_variance", "fx_variance", "cash", _foreign, cf.inject_fx_variance),
        FaultKind("other", "other", "cash", _direct_active, cf.inject_other),
        # Look-alikes: the same injectors, on targets that make them resemble another category.
        FaultKind(
            "listing_fee_lookalike",
            "listing_fee_mismatch",
            "billing",
            _aws_used,
            bf.inject_listing_fee_mismatch,
        ),
        FaultKind(
            "wrong_dimension_lookalike",
            "wrong_dimension",
            "usage",
            _multi_dim,
            partial(uf.inject_wrong_dimension, cheap_target=True),
        ),
        FaultKind(
            "short_payment_partial",
            "short_payment",
            "cash",
            _two_lines,
            partial(cf.inject_short_payment, partial_only=True),
        ),
    )
}


@dataclass(frozen=True)
class Scheme:
    """A planned fault: one kind, or two kinds on the same target (a case with two causes)."""

    name: str
    parts: tuple[str, ...]
    look_alike_of: Category | None = None
    message: bool = False  # always write a partner/customer/internal message for it
    weight: float = 1.0

    def eligible(self, world: World, c: Contract, period: str) -> bool:
        return all(KINDS[p].eligible(world, c, period) for p in self.parts)


# Relative frequencies beyond the first pass (which places every scheme once); metering drops,
# timing differences and short payments are what analysts see most.
SCHEMES: tuple[Scheme, ...] = (
    Scheme("dropped_metering", ("dropped_metering",), weight=10),
    Scheme("duplicate_metering", ("duplicate_metering",), weight=4),
    Scheme("rejected_metering", ("rejected_metering",), weight=5),
    Scheme("wrong_dimension", ("wrong_dimension",), weight=4),
    Scheme("price_mismatch", ("price_mismatch",), weight=5),
    Scheme("entitlement_mismatch", ("entitlement_mismatch",), weight=2),
    Scheme("listing_fee_mismatch", ("listing_fee_mismatch",), weight=4),
    Scheme("reseller_margin_mismatch", ("reseller_margin_mismatch",), weight=3),
    Scheme("short_payment", ("short_payment",), weight=8),
    Scheme("forgiven_charge", ("forgiven_charge",), weight=2),
    Scheme("disbursement_failure", ("disbursement_failure",), weight=3),
    Scheme("missing_invoice", ("missing_invoice",), weight=3),
    Scheme("credit_misapplied", ("credit_misapplied",), weight=3),
    Scheme("refund_discrepancy", ("refund_discrepancy",), weight=3),
    Scheme("tax_discrepancy", ("tax_discrepancy",), weight=3),
    Scheme("fx_variance", ("fx_variance",), weight=3),
    Scheme("timing_difference", ("timing_difference",), weight=8),
    Scheme("channel_conflict", ("channel_conflict",), message=True, weight=2),
    Scheme("other", ("other",), weight=3),
    Scheme(
        "listing_fee_lookalike",
        ("listing_fee_lookalike",),
        look_alike_of="short_payment",
        message=True,
        weight=2,
    ),
    Scheme(
        "wrong_dimension_lookalike",
        ("wrong_dimension_lookalike",),
        look_alike_of="dropped_metering",
        message=True,
        weight=2,
    ),
    Scheme("dropped_and_price", ("dropped_metering", "price_mismatch"), weight=1),
    Scheme("fee_and_short", ("listing_fee_mismatch", "short_payment"), weight=1),
    Scheme("fx_and_short", ("fx_variance", "short_payment_partial"), weight=1),
)
SCHEME_BY_NAME = {s.name: s for s in SCHEMES}
