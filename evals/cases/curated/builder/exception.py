"""The case's exception: raised by the real reconciliation rule over the seeded records, or
stored as another reconciliation system wrote it (an import: sparser details, its own names)."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.models import Discrepancy
from billing.reconcile.config import ReconcileSettings, using
from billing.reconcile.findings import Finding, apply_findings
from billing.reconcile.registry import RULES
from billing.reconcile.rules import register_all
from evals.cases.curated.builder.billing_events import event_id
from evals.cases.curated.builder.spec import (
    CaseSpec,
    ImportedException,
    ReconciledException,
    SpecError,
)


def raise_exception(session: Session, spec: CaseSpec, account_id: int | None) -> Discrepancy:
    """The case's exception row, timestamped at the spec's `run_at`."""
    if spec.reconciled is not None:
        row = _reconciled(session, spec, spec.reconciled)
    else:
        assert spec.imported is not None
        row = _imported(session, spec, spec.imported, account_id)
    row.first_seen_at = row.last_seen_at = row.updated_at = spec.run_at
    session.flush()
    return row


def _matches(finding: Finding, wanted: ReconciledException) -> bool:
    return (
        finding.kind == wanted.kind
        and (wanted.dim is None or finding.dimension_key == wanted.dim)
        and (wanted.product is None or finding.product_code == wanted.product)
        and (wanted.key_contains is None or wanted.key_contains in finding.natural_key)
    )


def _reconciled(session: Session, spec: CaseSpec, wanted: ReconciledException) -> Discrepancy:
    register_all()
    if wanted.rule not in RULES:
        raise SpecError(f"case {spec.id}: unknown rule {wanted.rule!r}")
    with using(ReconcileSettings(as_of=spec.run_at.date())):
        findings = list(RULES[wanted.rule](session, spec.period))
    chosen = [f for f in findings if _matches(f, wanted)]
    if len(chosen) != 1:
        found = (
            "; ".join(f"{f.kind} {f.natural_key} delta={f.delta_amount}" for f in findings)
            or "nothing"
        )
        raise SpecError(
            f"case {spec.id}: rule {wanted.rule} raised {len(chosen)} matching finding(s) of "
            f"kind {wanted.kind}; it raised: {found}"
        )
    finding = chosen[0]
    apply_findings(session, rule=wanted.rule, period=spec.period, findings=[finding])
    row = session.scalar(select(Discrepancy).where(Discrepancy.natural_key == finding.natural_key))
    assert row is not None
    # A natural key names the account by our id of it in this database; a bundle travels
    # between databases, so it names the account by its key (as the bundle docs show).
    rule, kind, period, _account, *rest = row.natural_key.split(":", 4)
    account_key = spec.account.key if spec.account and finding.account_id is not None else "-"
    row.natural_key = ":".join([rule, kind, period, account_key, *rest])
    return row


def _resolve(spec: CaseSpec, ref: str) -> str:
    """A spec names a billing event the builder made as ``@event:<invoice id>:<row>`` (its id is derived)."""
    if ref.startswith("@event:"):
        return event_id(spec.id, ref.removeprefix("@event:"))
    return ref


def _imported(
    session: Session, spec: CaseSpec, imp: ImportedException, account_id: int | None
) -> Discrepancy:
    delta = None if imp.expected is None or imp.observed is None else imp.observed - imp.expected
    delta_q = (
        None
        if imp.expected_quantity is None or imp.observed_quantity is None
        else imp.observed_quantity - imp.expected_quantity
    )
    details = json.loads(json.dumps(imp.details, default=str))
    digest = hashlib.sha256(
        json.dumps(
            {
                "refs": imp.refs,
                "details": details,
                "amounts": [
                    str(v)
                    for v in (
                        imp.expected,
                        imp.observed,
                        imp.expected_quantity,
                        imp.observed_quantity,
                    )
                ],
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()
    row = Discrepancy(
        natural_key=imp.natural_key,
        rule=imp.rule,
        kind=imp.kind,
        status="open",
        account_id=account_id,
        channel=imp.channel,
        period=spec.period,
        product_code=imp.product,
        dimension_key=imp.dim,
        currency=imp.currency,
        expected_amount=imp.expected,
        observed_amount=imp.observed,
        delta_amount=delta,
        expected_quantity=imp.expected_quantity,
        observed_quantity=imp.observed_quantity,
        delta_quantity=delta_q,
        record_refs={k: [_resolve(spec, r) for r in v] for k, v in imp.refs.items()},
        details=details,
        description=imp.description,
        evidence_hash=digest,
        source="import",
    )
    session.add(row)
    session.flush()
    return row
