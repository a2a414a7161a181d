"""The triage vocabulary is defined once in the domain room (`billing.taxonomy`); the rooms that
may not import it keep their own spelling, and these tests hold them to it."""

from __future__ import annotations

from typing import get_args

from agent.schemas import Action, Category, EscalateTo
from billing import taxonomy
from knowledge import sop


def test_runbook_categories_are_the_labels_but_other() -> None:
    assert taxonomy.CATEGORIES == (*taxonomy.RUNBOOK_CATEGORIES, "other")


def test_the_knowledge_base_knows_the_same_runbook_categories_in_the_same_order() -> None:
    assert sop.CATEGORIES == taxonomy.RUNBOOK_CATEGORIES


def test_the_agent_speaks_the_same_vocabulary() -> None:
    assert [c.value for c in Category] == list(taxonomy.CATEGORIES)
    assert {a.value for a in Action} == set(taxonomy.ACTIONS)
    assert {e.value for e in EscalateTo} == set(taxonomy.ESCALATE_TO)
    assert get_args(taxonomy.Route) == taxonomy.ROUTES == ("auto", "human")
