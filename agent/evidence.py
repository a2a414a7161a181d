"""One evidence bundle per case: the exception as plain JSON, the tool results, the outside text.

`gather_case` is what the graph's `gather` node calls. The tool results come from
`tools.gather_evidence` (the read-only tools room); the exception row and the messages
linked to it are read here. Everything is converted to JSON-safe values (Decimals and dates
as strings) so that it can sit in the graph state and be hashed for the audit trail.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from agent.llm.base import OutsideText
from billing.db import session_factory
from billing.models import Discrepancy, Message

EXCEPTION_FIELDS = (
    "id", "rule", "kind", "status", "account_id", "channel", "period", "product_code", "dimension_key",
    "currency", "expected_amount", "observed_amount", "delta_amount", "expected_quantity",
    "observed_quantity", "delta_quantity", "record_refs", "details", "description", "source",
)


class CaseNotFound(LookupError):
    """No exception with that id."""


class GatheredCase(BaseModel):
    """What `gather` hands the graph: plain JSON only."""

    exception: dict[str, Any]
    evidence: dict[str, Any]
    outside_text: list[OutsideText]


#: (session, exception row) -> tool name -> tool result (JSON). Injected in tests.
ToolRunner = Callable[[Session, Discrepancy], dict[str, Any]]


def plain(value: Any) -> Any:
    """A JSON-safe copy: Decimals as exact strings, dates as ISO, models dumped."""
    if isinstance(value, BaseModel):
        return plain(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def exception_dict(row: Discrepancy) -> dict[str, Any]:
    """The exception's fields a backend may use, as plain JSON."""
    return {name: plain(getattr(row, name)) for name in EXCEPTION_FIELDS}


def outside_text_of(session: Session, exception_id: int) -> list[OutsideText]:
    """The messages linked to the exception, oldest first, as data (never instructions)."""
    rows = session.scalars(
        select(Message).where(Message.exception_id == exception_id).order_by(Message.received_at, Message.id)
    )
    return [
        OutsideText(message_id=m.message_id, sender_role=m.sender_role, subject=m.subject or "", body=m.body)
        for m in rows
    ]


def tools_runner(session: Session, row: Discrepancy) -> dict[str, Any]:
    """Run the read-only tools once for the case (the tools room decides which apply)."""
    tools = importlib.import_module("tools")
    result = tools.gather_evidence(tools.ToolContext.for_exception(session, row))
    return plain(result)


def gather_case(engine: Engine, exception_id: int, run_tools: ToolRunner = tools_runner) -> GatheredCase:
    """Read the exception, run the tools and collect the linked outside text, in one session."""
    with session_factory(engine)() as session:
        row = session.get(Discrepancy, exception_id)
        if row is None:
            raise CaseNotFound(f"exception {exception_id} does not exist")
        evidence = run_tools(session, row)
        return GatheredCase(
            exception=exception_dict(row),
            evidence=evidence if isinstance(evidence, dict) else {"evidence": evidence},
            outside_text=outside_text_of(session, exception_id),
        )


def evidence_hash(case: GatheredCase) -> str:
    """A stable hash of everything the case was decided on (keys sorted, exact strings)."""
    blob = json.dumps(case.model_dump(mode="json"), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
