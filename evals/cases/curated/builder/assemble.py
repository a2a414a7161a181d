"""One spec → one case bundle: seed a scratch database, raise the exception, export the case.

The export is the real one (`collect_bundle`), so a curated bundle has exactly the shape of
what `triage export-cases` writes. Two things are then put in words a bundle can carry:
record refs that the rules write as database row ids (our usage rows, metering results,
partner feed rows) become the ids those records have in the bundle, and the account's earlier
exceptions are written as the spec tells them (how they ended is another system's history).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from billing.bundles import CaseBundle, collect_bundle
from billing.bundles.records import (
    MessageRecord,
    MeteringResultRecord,
    PriorException,
    PriorResolution,
)
from billing.db import make_engine
from billing.migrate import upgrade_engine
from billing.models import Account, Message, MeteringResult, PartnerUsage, UsageRecord
from evals.cases.curated.builder.billing_events import seed_billing_events
from evals.cases.curated.builder.books import seed_books
from evals.cases.curated.builder.exception import raise_exception
from evals.cases.curated.builder.parties import seed_fx, seed_parties
from evals.cases.curated.builder.spec import CaseSpec
from evals.cases.curated.builder.usage import seed_usage


class ScratchDatabases:
    """Fresh migrated SQLite files, copied from one template migrated once."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="curated-build-"))
        self.template = self.folder / "template.db"
        engine = make_engine(f"sqlite:///{self.template}")
        upgrade_engine(engine)
        engine.dispose()
        self.count = 0

    def fresh(self) -> Engine:
        self.count += 1
        path = self.folder / f"case{self.count}.db"
        shutil.copy(self.template, path)
        return make_engine(f"sqlite:///{path}")

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def build_case(spec: CaseSpec, databases: ScratchDatabases) -> CaseBundle:
    """The bundle of one case, with its expected labels."""
    engine = databases.fresh()
    try:
        with Session(engine) as session:  # never committed: the scratch database is thrown away
            contracts = seed_parties(session, spec)
            account_id = _account_id(session, spec)
            seed_fx(session, spec)
            for usage in spec.usage:
                assert account_id is not None, f"case {spec.id}: usage needs an account"
                seed_usage(session, spec, usage, account_id)
            seed_billing_events(session, spec)
            seed_books(session, spec, account_id, contracts)
            exception = raise_exception(session, spec, account_id)
            _seed_messages(session, spec, account_id, exception.id)
            refs = _bundle_ids(session)
            bundle = collect_bundle(session, exception.id, expected=spec.expected)
    finally:
        engine.dispose()
    return _finish(bundle, spec, refs)


def build_all(specs: Iterable[CaseSpec]) -> list[tuple[CaseSpec, CaseBundle]]:
    """Every case's bundle, in the specs' order."""
    databases = ScratchDatabases()
    try:
        return [(spec, build_case(spec, databases)) for spec in specs]
    finally:
        databases.close()


def _account_id(session: Session, spec: CaseSpec) -> int | None:
    if spec.account is None:
        return None
    return session.scalar(select(Account.id).where(Account.account_key == spec.account.key))


def _seed_messages(
    session: Session, spec: CaseSpec, account_id: int | None, exception_id: int
) -> None:
    for m in spec.messages:
        session.add(
            Message(
                message_id=m.id,
                account_id=account_id,
                exception_id=exception_id if m.linked else None,
                channel=m.channel,
                sender=m.sender,
                sender_role=m.role,
                received_at=m.received,
                subject=m.subject,
                body=m.body,
            )
        )
    session.flush()


class _RowIds:
    """What database row ids stand for, so record refs can name records the way a bundle does."""

    def __init__(self) -> None:
        self.usage: dict[str, tuple[str, str, str, str]] = {}  # id → (record id, product, dim, day)
        self.metering: dict[str, str] = {}
        self.partner: dict[str, str] = {}


def _bundle_ids(session: Session) -> _RowIds:
    ids = _RowIds()
    for row in session.scalars(select(UsageRecord)):
        ids.usage[str(row.id)] = (
            row.source_record_id or "",
            row.product_code,
            row.dimension_key,
            row.usage_hour.date().isoformat(),
        )
    for m in session.scalars(select(MeteringResult)):
        ids.metering[str(m.id)] = (
            MeteringResultRecord.from_db(
                product_code=m.product_code,
                customer_identifier=m.customer_identifier,
                customer_aws_account_id=m.customer_aws_account_id,
                customer_ref=m.customer_ref,
                license_arn=m.license_arn,
                dimension=m.dimension,
                timestamp=m.timestamp,
                quantity=m.quantity,
                status=m.status,
                metering_record_id=m.metering_record_id,
                submitted_at=m.submitted_at,
            ).id
            or ""
        )
    for p in session.scalars(select(PartnerUsage)):
        ids.partner[str(p.id)] = p.usage_feed_id or ""
    return ids


def _finish(bundle: CaseBundle, spec: CaseSpec, ids: _RowIds) -> CaseBundle:
    refs = dict(bundle.exception.record_refs)
    hourly = {h.id for h in bundle.usage.hourly} if bundle.usage else set()
    if "usage_records" in refs:
        named: list[str] = []
        for row_id in refs["usage_records"]:
            record_id, product, dim, day = ids.usage.get(row_id, (row_id, "", "", ""))
            # An hour the bundle lists is cited by its own id; any other by its day's sum.
            name = (
                record_id
                if record_id in hourly or not product
                else f"usage-day:{product}:{dim}:{day}"
            )
            if name not in named:
                named.append(name)
        refs["usage_records"] = named
    if "metering_results" in refs:
        refs["metering_results"] = [ids.metering.get(r, r) for r in refs["metering_results"]]
    if "partner_usage" in refs:
        refs["partner_usage"] = sorted({ids.partner.get(r, r) for r in refs["partner_usage"]})
    history = [
        PriorException(
            natural_key=h.natural_key,
            rule=h.rule,
            kind=h.kind,
            period=h.period,
            status=h.status,
            channel=h.channel,
            product_code=h.product,
            dimension_key=h.dim,
            currency=h.currency,
            delta_amount=h.delta,
            description=h.description,
            close_reason=h.close_reason,
            resolution=None
            if h.decided_by is None
            else PriorResolution(
                decided_by=h.decided_by,
                category=h.category,
                action=h.action,
                escalate_to=h.escalate_to,
                decision=h.decision if h.decided_by == "review" else None,
                route=None if h.decided_by == "review" else "auto",
            ),
        )
        for h in spec.history
    ]
    exception = bundle.exception.model_copy(update={"record_refs": refs})
    return bundle.model_copy(
        update={
            "exception": exception,
            "history": history,
            "messages": _messages_in_order(bundle.messages),
        }
    )


def _messages_in_order(messages: list[MessageRecord]) -> list[MessageRecord]:
    return sorted(messages, key=lambda m: (m.received_at, m.message_id))
