"""The ground truth of one injected fault, as written to `truth.jsonl` beside the data."""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from billing.taxonomy import Action, Category, EscalateTo, Route


class TruthEntry(BaseModel):
    """What a fault is, what should be done about it, and which exceptions should reveal it.

    `expected_rules` / `expected_kinds` list every rule (and kind) that may raise an exception
    for it; one raised exception is enough to count the fault as found. `account_key`,
    `product_code` and `dimension_key` are None when the fault has no such grain (e.g. unapplied
    cash from an unknown payer, or a wrong-dimension fault spanning two dimensions)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fault_id: str
    category: Category
    action: Action
    escalate_to: EscalateTo
    route: Route
    account_key: str | None
    channel: str
    period: str
    product_code: str | None
    dimension_key: str | None
    expected_rules: list[str]
    expected_kinds: list[str]
    amount_at_stake: Decimal = Field(ge=0)
    currency: str
    benign: bool
    look_alike_of: Category | None = None
    second_category: Category | None = None
    # Two causes: the rules only the second cause trips, and what resolves that cause. An exception
    # raised by one of those rules is explained by the second cause, not the first.
    second_rules: list[str] = Field(default_factory=list)
    second_action: Action | None = None
    second_escalate_to: EscalateTo | None = None
    note: str = ""
    # The inbound messages written for this case (messages.jsonl), if any.
    message_ids: list[str] = Field(default_factory=list)

    def labels_for(self, rule: str) -> tuple[Category, Action, EscalateTo]:
        """(category, action, escalate_to) of the cause that an exception of `rule` reveals."""
        if self.second_category is not None and rule in self.second_rules:
            return (self.second_category, self.second_action or self.action,
                    self.second_escalate_to or self.escalate_to)
        return self.category, self.action, self.escalate_to

    @field_serializer("amount_at_stake")
    def _amount_as_text(self, value: Decimal) -> str:
        return format(value, "f")  # exact decimal text, never a float


def write_truth(path: Path, entries: Iterable[TruthEntry]) -> int:
    """Write one JSON line per entry; returns how many were written."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for entry in entries:
            fh.write(json.dumps(entry.model_dump(mode="json"), ensure_ascii=False) + "\n")
            count += 1
    return count


def read_truth(path: Path) -> list[TruthEntry]:
    """Read `truth.jsonl`; a malformed line raises ValueError naming the file and line."""
    entries: list[TruthEntry] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                entries.append(TruthEntry.model_validate_json(line))
            except ValueError as exc:
                raise ValueError(f"{path}: line {number}: {exc}") from exc
    return entries
