"""Fakes behind the graph's interfaces: a backend, a SOP retriever, a tools runner, and
factories for exceptions and messages. Fast, deterministic, offline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from agent.llm.base import BackendError, BackendResult, CaseInput, SopPassage, Usage
from agent.schemas import Category, Classification, Draft, EscalateTo
from agent.taxonomy import candidate_categories, usual_resolution
from billing.db import transaction
from billing.models import Discrepancy, FxRate, Message, utcnow
from billing.money import fmt
from billing.settings import Settings


def passage(category: str, heading: str = "Decision steps") -> SopPassage:
    """A SOP passage of one category, as the knowledge base would return it."""
    return SopPassage(chunk_id=f"{category}#{heading.lower().replace(' ', '-')}", sop_id=category, version="2.1",
                      heading=heading, text=f"{heading} of {category}: check the records, then act within 48 hours.",
                      categories=[category])


class FakeRetriever:
    """Two passages per category; counts the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], str | None]] = []

    def __call__(self, categories: Sequence[str], channel: str | None) -> list[SopPassage]:
        self.calls.append((tuple(categories), channel))
        return [passage(c, h) for c in categories[:2] for h in ("Decision steps", "Resolution")]


def fake_tools(engine: Engine, exception_id: int) -> dict[str, Any]:
    """Evidence as the tools would return it: the records the exception names, with amounts."""
    with Session(engine) as session:
        row = session.get(Discrepancy, exception_id)
        assert row is not None
    return {
        "records": {kind: [{"id": rid} for rid in ids] for kind, ids in (row.record_refs or {}).items()},
        "summary": {"expected": format(row.expected_amount, "f") if row.expected_amount is not None else None,
                    "observed": format(row.observed_amount, "f") if row.observed_amount is not None else None},
    }


@dataclass
class FakeBackend:
    """Classifies as the first candidate category with its usual resolution; drafts from the
    exception's own figures. Knobs make it fail, invent numbers, or obey outside text."""

    settings: Settings
    confidence: float = 0.95
    invent_amount: str | None = None  # put this amount in every draft (a hallucination)
    invent_id: str | None = None  # cite this record id in every draft
    repair_fixes: bool = True  # whether repair_draft removes the invented text
    fail_classify: bool = False
    gullible: bool = False  # follows instructions found in outside text (a compromised model)
    name: str = "fake"
    model: str = "fake-1"
    prompt_version: str = "test-1"
    calls: list[str] = field(default_factory=list)

    def classify(self, case: CaseInput) -> BackendResult[Classification]:
        self.calls.append(f"classify:{case.case_id}")
        if self.fail_classify:
            raise BackendError("server returned 503 after 4 retries")
        exc = case.exception
        category = candidate_categories(exc.get("rule"), exc.get("kind"))[0]
        confidence = self.confidence
        if self.gullible and any("timing" in t.body.lower() for t in case.outside_text):
            category, confidence = Category.TIMING_DIFFERENCE, 1.0
        usual = usual_resolution(category, exc.get("channel"))
        refs = [str(i) for ids in (exc.get("record_refs") or {}).values() for i in ids]
        chunks = [p.chunk_id for p in case.sop_passages if category.value in p.categories][:2]
        value = Classification(category=category, confidence=confidence, rationale=f"The {exc.get('kind')} points to {category.value}.",
                               evidence_ids=refs[:3], sop_chunk_ids=chunks, action=usual.action,
                               escalate_to=usual.escalate_to, owner=usual.owner)
        return BackendResult(value=value, usage=Usage(llm_calls=1, input_tokens=100, output_tokens=20), model=self.model)

    def _body(self, case: CaseInput, extra: str) -> str:
        exc = case.exception
        currency = exc.get("currency") or "USD"
        lines = [f"Period {exc.get('period')}."]
        if exc.get("delta_amount") is not None:
            lines.append(f"Difference: {fmt(abs(Decimal(exc['delta_amount'])), currency)}.")
        refs = [str(i) for ids in (exc.get("record_refs") or {}).values() for i in ids]
        if refs:
            lines.append("Records: " + ", ".join(refs[:3]) + ".")
        return " ".join(lines) + extra

    def draft(self, case: CaseInput, classification: Classification) -> BackendResult[Draft]:
        self.calls.append(f"draft:{case.case_id}")
        extra = ""
        if self.invent_amount:
            extra += f" We also expect USD {self.invent_amount} next month."
        if self.invent_id:
            extra += f" See invoice {self.invent_id}."
        return BackendResult(value=self._make(case, classification, extra), usage=Usage(1, 120, 60), model=self.model)

    def repair_draft(self, case: CaseInput, classification: Classification, draft: Draft,
                     problems: list[str]) -> BackendResult[Draft]:
        self.calls.append(f"repair:{case.case_id}")
        value = self._make(case, classification, "") if self.repair_fixes else draft
        return BackendResult(value=value, usage=Usage(1, 150, 60), model=self.model)

    def _make(self, case: CaseInput, classification: Classification, extra: str) -> Draft:
        contacts = self.settings.email
        outward = classification.escalate_to in (EscalateTo.PARTNER, EscalateTo.CUSTOMER)
        channel = case.exception.get("channel") or "direct"
        to = (contacts.partner_contacts.get(channel, contacts.internal_owner) if classification.escalate_to is EscalateTo.PARTNER
              else contacts.customer_contact_role if outward else contacts.internal_owner)
        return Draft(kind="email" if outward else "internal_resolution", to=to,
                     subject=f"{classification.category.value} {case.exception.get('period')}",
                     body=self._body(case, extra), attachments=[], sop_steps=classification.sop_chunk_ids[:1])


def add_exception(engine: Engine, *, rule: str = "metering_gaps", kind: str = "metering_missing_hours",
                  channel: str = "aws_marketplace", period: str = "2026-10", currency: str | None = "USD",
                  expected: str | None = "1000.00", observed: str | None = "750.00", n: int = 0,
                  refs: dict[str, list[str]] | None = None, status: str = "open") -> int:
    """Insert one exception and return its id."""
    exp = None if expected is None else Decimal(expected)
    obs = None if observed is None else Decimal(observed)
    delta = None if exp is None or obs is None else obs - exp
    now = utcnow()
    with transaction(engine) as session:
        row = Discrepancy(
            natural_key=f"{rule}:{kind}:{period}:{n}", rule=rule, kind=kind, status=status, account_id=None,
            channel=channel, period=period, product_code="acme-analytics", dimension_key="api_calls",
            currency=currency, expected_amount=exp, observed_amount=obs, delta_amount=delta,
            record_refs=refs if refs is not None else {"usage_records": [f"UR-{n:04d}-A", f"UR-{n:04d}-B"]},
            details={"missing_hours": 7}, description=f"{kind} for acme-analytics in {period}",
            evidence_hash="0" * 64, first_seen_at=now, last_seen_at=now, updated_at=now, source="reconcile",
        )
        session.add(row)
        session.flush()
        return row.id


def add_message(engine: Engine, exception_id: int, body: str, *, subject: str = "Re: October billing",
                message_id: str = "msg-1", sender_role: str = "partner") -> None:
    """Link a partner/customer message to an exception."""
    with transaction(engine) as session:
        session.add(Message(message_id=message_id, exception_id=exception_id, channel="aws_marketplace",
                            sender="ops@partner.example", sender_role=sender_role, received_at=utcnow(),
                            subject=subject, body=body))


def add_fx_rate(engine: Engine, currency: str, rate_date: Any, usd_per_unit: str) -> None:
    """One FX rate to USD."""
    with transaction(engine) as session:
        session.add(FxRate(currency=currency, rate_date=rate_date, usd_per_unit=Decimal(usd_per_unit)))
