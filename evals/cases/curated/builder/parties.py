"""Seeds the parties and terms of a case: the account, products, contracts, agreements, FX rates."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from sqlalchemy.orm import Session

from billing.models import Account, Agreement, Contract, ContractRate, Dimension, FxRate, Product
from evals.cases.curated.builder.spec import CaseSpec

#: Our seller account on AWS Marketplace (the proposer of every private offer).
SELLER_ACCOUNT_ID = "814736250193"


def seed_parties(session: Session, spec: CaseSpec) -> dict[str, int]:
    """Insert the case's account, products, contracts and agreements; return contract ids by key."""
    account_id = None
    if spec.account is not None:
        a = spec.account
        account = Account(
            account_key=a.key,
            name=a.name,
            aws_account_id=a.aws_account_id,
            aws_customer_identifier=a.aws_customer_identifier,
            azure_subscription_id=a.azure_subscription_id,
            gcp_billing_account_id=a.gcp_billing_account_id,
        )
        session.add(account)
        session.flush()
        account_id = account.id
    products: dict[str, int] = {}
    for p in spec.products:
        product = Product(
            product_code=p.code,
            marketplace_product_id=p.mp_id,
            title=p.title,
            dimensions=[
                Dimension(key=d.key, unit=d.unit, description=d.description) for d in p.dims
            ],
        )
        session.add(product)
        session.flush()
        products[p.code] = product.id
    contracts: dict[str, int] = {}
    for c in spec.contracts:
        if account_id is None:
            raise ValueError(f"case {spec.id}: contract {c.key} needs the case's account")
        contract = Contract(
            contract_key=c.key,
            account_id=account_id,
            product_id=products[c.product],
            channel=c.channel,
            offer_id=c.offer_id,
            agreement_id=c.agreement_id,
            currency=c.currency,
            start_date=c.start,
            end_date=c.end,
            is_private_offer=c.private,
            is_renewal=c.renewal,
            listing_fee_rate=c.fee_rate,
            total_contract_value=c.tcv,
            discount_pct=c.discount_pct,
            commitment_amount=c.commitment,
            payment_terms_days=c.terms_days,
            reseller_name=c.reseller_name,
            reseller_account_id=c.reseller_account_id,
            wholesale_discount_pct=c.wholesale_discount_pct,
            tax_party=c.tax_party,
            rates=[
                ContractRate(
                    dimension_key=dim, unit_price=rate.price, included_quantity=rate.included
                )
                for dim in c.rates
                if (rate := c.rate(dim)) is not None
            ],
        )
        session.add(contract)
        session.flush()
        contracts[c.key] = contract.id
    for g in spec.agreements:
        aws_id = spec.account.aws_account_id if spec.account else None
        session.add(
            Agreement(
                agreement_id=g.id,
                offer_id=g.offer_id,
                account_id=account_id if g.of_account else None,
                proposer_account_id=SELLER_ACCOUNT_ID,
                acceptor_account_id=g.acceptor or aws_id,
                start_time=g.start,
                end_time=g.end,
                acceptance_time=g.accepted or g.start,
                intent=g.intent,
                preceding_agreement_id=g.preceding,
                status=g.status,
                currency_code=g.currency,
                estimated_agreement_value=g.value,
            )
        )
    session.flush()
    return contracts


def seed_fx(session: Session, spec: CaseSpec) -> None:
    """Daily USD rates (business days) between and around the spec's anchors, linearly interpolated.

    Rates are published on business days only, as a treasury rate table is; the rules take the
    latest rate on or before a day, so weekends read Friday's rate."""
    for currency, anchors in spec.fx.items():
        points = sorted(anchors.items())
        first, last = points[0][0] - timedelta(days=10), points[-1][0] + timedelta(days=10)
        day = first
        while day <= last:
            if day.weekday() < 5:
                session.add(
                    FxRate(
                        rate_date=day,
                        currency=currency,
                        usd_per_unit=_rate_on(points, day, currency),
                    )
                )
            day += timedelta(days=1)
    session.flush()


def _rate_on(points: list[tuple[date, Decimal]], day: date, currency: str) -> Decimal:
    places = Decimal("0.000001") if currency in ("JPY", "KRW") else Decimal("0.0001")
    if day <= points[0][0]:
        return points[0][1]
    if day >= points[-1][0]:
        return points[-1][1]
    for (d0, r0), (d1, r1) in pairwise(points):
        if d0 <= day <= d1:
            share = Decimal((day - d0).days) / Decimal((d1 - d0).days)
            return (r0 + (r1 - r0) * share).quantize(places, rounding=ROUND_HALF_UP)
    raise AssertionError("unreachable: the day lies between the anchors")
