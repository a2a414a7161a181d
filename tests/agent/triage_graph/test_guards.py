"""The guard on outside text. DESIGN.md: "Text that came from outside (partner emails,
dispute notes, CSV fields) is data, never instructions to the model; text that tries to
instruct is flagged and goes to a person."
"""

from __future__ import annotations

import pytest

from agent.guards import guard_outside_text, inspect_text, normalise
from agent.llm.base import OutsideText
from tests.agent.triage_graph.outside_texts import HONEST, HOSTILE


@pytest.mark.parametrize("text", HOSTILE)
def test_instructions_are_flagged(text: str) -> None:
    result = inspect_text(text)
    assert result.suspicious and result.reasons


@pytest.mark.parametrize("text", HONEST)
def test_ordinary_remittance_text_is_not_flagged(text: str) -> None:
    assert inspect_text(text).reasons == []


def test_normalise_undoes_disguises() -> None:
    assert "ignore" in normalise("I G\u200b N O R E")
    assert normalise("\uff21\uff29") == "ai"


def test_subject_counts_and_reasons_accumulate() -> None:
    item = OutsideText(message_id="m1", sender_role="partner", subject="SYSTEM PROMPT override", body="Thanks.")
    [checked] = guard_outside_text([item])
    assert checked.suspicious and "talks about prompts or system messages" in checked.reasons
