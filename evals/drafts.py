"""Is the final draft backed by the evidence? Every amount and id in it found there, SOP cited.

It reads the draft with the verify step's own parser (`agent.verify.extract_claims`) and looks
each claim up in the same facts (`agent.verify.collect_facts`: the exception, the tool results,
the retrieved SOP passages, the configured contacts) — one notion of "found in the evidence"
for the agent and its eval. What a draft asserts that is found nowhere is invented; a number
that is in the evidence but used for the wrong thing is beyond this check.
"""

from __future__ import annotations

from typing import Any

from agent.verify import Facts, collect_facts, extract_claims
from billing.settings import Settings
from evals.capture import CaseCapture
from evals.results import DraftCheck


def unsupported_claims(text: str, facts: Facts) -> tuple[list[str], list[str], list[str]]:
    """(amounts, identifiers, other claims — dates, periods, addresses) of `text` not in `facts`."""
    claims = extract_claims(text)
    amounts = [written for written, value, is_percent in claims.numbers
               # a percentage may stand for its fraction in the evidence (3% for 0.03), as verify allows
               if not (facts.has_number(value) or (is_percent and facts.has_number(value / 100)))]
    ids = [token for token in claims.ids if not facts.has_id(token)]
    other = [written for written, day in claims.dates if not facts.has_date(day)]
    other += [written for written, month in claims.months if not facts.has_month(month)]
    other += [address for address in claims.emails if not facts.has_email(address)]
    return amounts, ids, other


def check_draft_of(state: dict[str, Any], capture: CaseCapture, settings: Settings) -> DraftCheck | None:
    """The final draft of a graph state, checked against what that case was given (None: no draft)."""
    draft = state.get("draft")
    if not draft:
        return None
    case = capture.case_input(state)
    facts = collect_facts(case, settings, capture.evidence_text(case))
    amounts: list[str] = []
    ids: list[str] = []
    other: list[str] = []
    for text in (draft.get("subject", ""), draft.get("body", "")):
        a, i, o = unsupported_claims(text, facts)
        amounts += a
        ids += i
        other += o
    steps = list(draft.get("sop_steps") or [])
    return DraftCheck(
        kind=draft.get("kind", ""), to=draft.get("to", ""), subject=draft.get("subject", ""),
        body=draft.get("body", ""), sop_steps=steps, invented_amounts=amounts, invented_ids=ids,
        other_unsupported=other, sop_cited=bool(steps) and all(step in facts.chunk_ids for step in steps),
    )
