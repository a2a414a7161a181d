"""Seeds usage as it really flowed: our hourly usage, what metering sent and AWS answered, and
the partner's daily feed built from what AWS accepted.

By default every hour with usage is metered at its own hour and accepted (`Success`), and the
partner's feed reports, per UTC day, what AWS accepted at the contracted rate. A spec's rules
say where reality departed from that (hours never sent, answered `Unprocessed`, sent under
another dimension or twice under two customer references, reported on the next day...).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from billing.models import MeteringResult, PartnerUsage, UsageRecord
from billing.reconcile.periods import period_bounds
from evals.cases.curated.builder.spec import (
    CaseSpec,
    ContractSpec,
    MeterRule,
    PartnerRule,
    UsageSpec,
    parse_days,
    parse_hours,
)

#: Days before the partner's daily usage feed holds a day.
FEED_LAG_DAYS = 2

# Share of a dimension's hourly base by UTC hour: what a day of traffic looks like.
CURVES: dict[str, list[str]] = {
    # Europe and the US east coast at work: quiet nights, busy 08–17 UTC, a US afternoon tail.
    "business": [
        "0.55",
        "0.5",
        "0.45",
        "0.45",
        "0.5",
        "0.6",
        "0.8",
        "1",
        "1.25",
        "1.35",
        "1.4",
        "1.4",
        "1.35",
        "1.4",
        "1.45",
        "1.4",
        "1.3",
        "1.2",
        "1.1",
        "1",
        "0.9",
        "0.8",
        "0.7",
        "0.6",
    ],
    "flat": ["1"] * 24,
    # Nightly batch jobs between 01 and 05 UTC.
    "batch": [
        "0.8",
        "2.2",
        "2.6",
        "2.6",
        "2.2",
        "1.2",
        "0.6",
        "0.6",
        "0.7",
        "0.7",
        "0.7",
        "0.7",
        "0.7",
        "0.7",
        "0.7",
        "0.7",
        "0.7",
        "0.7",
        "0.6",
        "0.6",
        "0.6",
        "0.6",
        "0.7",
        "0.7",
    ],
    # Asia-Pacific at work: busy 00–09 UTC.
    "apac": [
        "1.4",
        "1.5",
        "1.5",
        "1.5",
        "1.45",
        "1.4",
        "1.3",
        "1.2",
        "1.1",
        "0.9",
        "0.7",
        "0.6",
        "0.5",
        "0.45",
        "0.45",
        "0.45",
        "0.5",
        "0.5",
        "0.55",
        "0.6",
        "0.8",
        "1",
        "1.2",
        "1.3",
    ],
}


def _hours(first: date, last: date) -> list[datetime]:
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    count = ((last - first).days + 1) * 24
    return [start + timedelta(hours=n) for n in range(count)]


def _window(spec: CaseSpec, usage: UsageSpec) -> tuple[date, date]:
    bounds = period_bounds(spec.period)
    first = bounds.first_day - timedelta(days=1)
    last = bounds.last_day + timedelta(days=1)
    return max(first, usage.start or first), min(last, usage.end or last)


def hourly_usage(spec: CaseSpec, usage: UsageSpec) -> dict[tuple[str, datetime], Decimal]:
    """Our usage per (dimension, hour): the dimension's curve, overridden by the spec's `set` rules."""
    first, last = _window(spec, usage)
    quantities: dict[tuple[str, datetime], Decimal] = {}
    for dim, profile in usage.dims.items():
        curve = [Decimal(x) for x in CURVES[profile.curve]]
        for hour in _hours(first, last):
            weekend = hour.weekday() >= 5 and profile.weekend_per_hour is not None
            base = profile.weekend_per_hour if weekend else profile.per_hour
            assert base is not None
            quantities[(dim, hour)] = (base * curve[hour.hour]).quantize(
                Decimal(1), rounding=ROUND_HALF_UP
            )
    for rule in usage.set:
        for hour in parse_hours(rule.hours):
            quantities[(rule.dim, hour)] = rule.quantity
    # Only hours complete when the reconciliation ran exist yet.
    cutoff = spec.run_at.replace(minute=0, second=0, microsecond=0)
    return {key: q for key, q in quantities.items() if q > 0 and key[1] < cutoff}


def _record_id(seed: str) -> str:
    digest = hashlib.sha1(seed.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _rule_for(rules: list[MeterRule], dim: str, hour: datetime) -> MeterRule | None:
    chosen = None
    for rule in rules:  # the last matching rule wins, so a narrow rule can follow a wide one
        if rule.dim in (None, dim) and hour in parse_hours(rule.hours):
            chosen = rule
    return chosen


def seed_usage(session: Session, spec: CaseSpec, usage: UsageSpec, account_id: int) -> None:
    """Insert our hourly usage, the metering results and the partner's daily feed for one product."""
    assert spec.account is not None
    account = spec.account
    quantities = hourly_usage(spec, usage)
    short = account.key.lower()
    for (dim, hour), quantity in sorted(quantities.items()):
        session.add(
            UsageRecord(
                account_id=account_id,
                product_code=usage.product,
                dimension_key=dim,
                usage_hour=hour,
                quantity=quantity,
                source_record_id=f"usg-{short}-{dim}-{hour:%Y%m%d%H}",
            )
        )
    if not usage.metered:
        session.flush()
        return
    refs = {"identifier": account.aws_customer_identifier, "account_id": account.aws_account_id}
    primary = usage.send_as
    accepted_hours: dict[tuple[str, datetime], Decimal] = defaultdict(Decimal)
    for (dim, hour), quantity in sorted(quantities.items()):
        rule = _rule_for(usage.metering, dim, hour)
        status = rule.status if rule else "Success"
        if status == "missing":
            continue
        sent_dim = (rule.send_as_dim if rule else None) or dim
        submitted = hour + timedelta(hours=1, minutes=rule.submitted_delay_minutes if rule else 5)
        senders = [(primary, sent_dim)]
        if rule is not None and rule.also_as is not None and status == "Success":
            senders.append((rule.also_as, sent_dim))
        if rule is not None and rule.copy_as_dim is not None and status == "Success":
            senders.append((primary, rule.copy_as_dim))
        for sender, record_dim in senders:
            ref = refs[sender]
            if ref is None:
                raise ValueError(
                    f"case {spec.id}: metering as {sender} needs the account's id for it"
                )
            is_success = status in ("Success", "DuplicateRecord")
            results = [("Success", True)] if is_success else [(status, False)]
            if status == "DuplicateRecord":
                results.append(
                    ("DuplicateRecord", False)
                )  # a retry of a record AWS had already accepted
            for answer, counts in results:
                session.add(
                    MeteringResult(
                        product_code=usage.product,
                        customer_identifier=ref if sender == "identifier" else None,
                        customer_aws_account_id=ref if sender == "account_id" else None,
                        customer_ref=ref,
                        license_arn=None,
                        dimension=record_dim,
                        timestamp=hour,
                        quantity=quantity,
                        status=answer,
                        metering_record_id=_record_id(f"{spec.id}:{ref}:{record_dim}:{hour}")
                        if counts
                        else None,
                        submitted_at=submitted
                        + (timedelta(minutes=50) if not counts else timedelta()),
                    )
                )
                if counts:
                    accepted_hours[(record_dim, hour)] += quantity
    if usage.partner_feed:
        _seed_partner_feed(session, spec, usage, accepted_hours)
    session.flush()


def _feed_day(rules: list[PartnerRule], dim: str, hour: datetime) -> date:
    for rule in rules:
        if (
            rule.next_day_hours
            and rule.dim in (None, dim)
            and hour in parse_hours(rule.next_day_hours)
        ):
            return hour.date() + timedelta(days=1)
    return hour.date()


def _contract_on(spec: CaseSpec, product: str, day: date) -> ContractSpec | None:
    valid = [
        c
        for c in spec.contracts
        if c.product == product
        and c.channel in ("aws_marketplace", "reseller")
        and c.start <= day
        and (c.end is None or c.end >= day)
    ]
    return max(valid, key=lambda c: c.start) if valid else None


def _seed_partner_feed(
    session: Session,
    spec: CaseSpec,
    usage: UsageSpec,
    accepted_hours: dict[tuple[str, datetime], Decimal],
) -> None:
    assert spec.account is not None and spec.account.aws_account_id is not None
    product = spec.product(usage.product)
    units = {d.key: d.unit for d in product.dims}
    first, last = _window(spec, usage)
    per_day: dict[tuple[str, date], Decimal] = defaultdict(Decimal)
    for (dim, hour), quantity in accepted_hours.items():
        per_day[(dim, _feed_day(usage.partner, dim, hour))] += quantity
    aws_id = spec.account.aws_account_id
    # The feed refreshes every 24 h and lags: a day is in it two days later (DOMAIN.md).
    last = min(last, spec.run_at.date() - timedelta(days=FEED_LAG_DAYS))
    for (dim, day), quantity in sorted(per_day.items()):
        if not first <= day <= last or quantity <= 0:
            continue
        contract = _contract_on(spec, usage.product, day)
        rate_spec = contract.rate(dim) if contract else None
        rate = rate_spec.price if rate_spec else None
        offer = contract.offer_id if contract else None
        agreement = contract.agreement_id if contract else None
        description = f"{product.title} - {dim} ({units.get(dim, 'units')})"
        dropped = False
        for rule in usage.partner:
            if rule.days is None or rule.dim not in (None, dim) or day not in parse_days(rule.days):
                continue
            rate = rule.rate if rule.rate is not None else rate
            offer = rule.offer_id or offer
            agreement = rule.agreement_id or agreement
            description = rule.description or description
            dropped = dropped or rule.drop
        if dropped:
            continue
        session.add(
            PartnerUsage(
                usage_feed_id=f"uf-{aws_id}-{dim}-{day:%Y%m%d}",
                usage_date=day,
                product_id=product.mp_id,
                agreement_id=agreement,
                end_user_account_id=aws_id,
                payer_account_id=aws_id,
                region=usage.region,
                dimension_key=dim,
                usage_unit=units.get(dim),
                usage_quantity=quantity,
                pricing_currency=contract.currency if contract else "USD",
                usage_rate_per_unit_in_pricing_currency=rate,
                estimated_revenue_in_pricing_currency=None if rate is None else quantity * rate,
                offer_id=offer or "",
                recipient_account_id=None,
                charge_item_description=description,
                catalog="AWSMarketplace",
            )
        )
