"""Reading the case: typed accessors over the exception's computed details and the evidence.

Rules and tools hand over plain JSON (decimals as strings). These helpers read it without
ever raising on a missing key — an absent signal is simply not evidence for anything.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from agent.llm.base import CaseInput


def dec(value: Any) -> Decimal | None:
    """An exact Decimal from evidence text, or None."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def get(obj: Any, *path: str) -> Any:
    """`obj[path[0]][path[1]]...`, None as soon as a step is missing."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def close(a: Decimal | None, b: Decimal | None, *, rel: Decimal = Decimal("0.02"), abs_: Decimal = Decimal("0.01")) -> bool:
    """Whether two amounts agree within a relative or absolute tolerance."""
    if a is None or b is None:
        return False
    return abs(abs(a) - abs(b)) <= max(abs_, rel * max(abs(a), abs(b)))


class Facts:
    """The signals of one case, read once."""

    def __init__(self, case: CaseInput) -> None:
        self.case = case
        self.exc = case.exception
        self.details: dict[str, Any] = self.exc.get("details") or {}
        self.rule: str = self.exc.get("rule") or ""
        self.kind: str = self.exc.get("kind") or ""
        self.channel: str = self.exc.get("channel") or ""
        self.currency: str = self.exc.get("currency") or "USD"
        self.delta = dec(self.exc.get("delta_amount"))
        self.expected = dec(self.exc.get("expected_amount"))
        self.observed = dec(self.exc.get("observed_amount"))
        self.delta_qty = dec(self.exc.get("delta_quantity"))
        self._evidence_text: str | None = None

    def detail(self, *path: str) -> Any:
        return get(self.details, *path)

    def detail_dec(self, *path: str) -> Decimal | None:
        return dec(get(self.details, *path))

    @property
    def evidence_text(self) -> str:
        """The evidence as one string, for presence tests of enumerated values (statuses, actions)."""
        if self._evidence_text is None:
            self._evidence_text = json.dumps(self.case.evidence, default=str, sort_keys=True)
        return self._evidence_text

    def evidence_mentions(self, token: str) -> bool:
        return f'"{token}"' in self.evidence_text

    def agreement_statuses(self) -> list[str]:
        """Statuses of the account's agreements as the evidence shows them."""
        found: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if "agreement_id" in node and isinstance(node.get("status"), str):
                    found.append(node["status"].upper())
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)

        walk(self.case.evidence.get("get_agreement_state"))
        return found

    def record_ids(self) -> list[str]:
        refs = self.exc.get("record_refs") or {}
        return [str(r) for kind in sorted(refs) for r in refs[kind]]
