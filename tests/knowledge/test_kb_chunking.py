"""Chunking by heading: stable ids from the heading path, long sections split, items found."""

from __future__ import annotations

from pathlib import Path

from knowledge.chunking import chunk_sop, slugify, split_units
from knowledge.sop import parse_sop

HEAD = """---
id: demo
title: Demo runbook
version: "1.0"
categories: [short_payment]
channels: [direct]
owner: ar
updated: 2025-01-01
---
"""


def _chunks(body: str, **kw: int):  # type: ignore[no-untyped-def]
    return chunk_sop(parse_sop(HEAD + body, Path("demo.md")), **kw)


def test_ids_follow_the_heading_path() -> None:
    chunks = _chunks(
        "# Demo runbook\n\nWhat this is for.\n\n## Symptoms\n\nA.\n\n"
        "## Decision steps\n\n### If paid late (net-30)\n\nWait.\n\n## Symptoms\n\nAgain.\n"
    )
    assert [c.chunk_id for c in chunks] == [
        "demo#overview",
        "demo#symptoms",
        "demo#decision-steps/if-paid-late-net-30",
        "demo#symptoms-2",  # the same heading twice stays unique
    ]
    assert chunks[2].heading == "Decision steps > If paid late (net-30)"
    assert chunks[0].heading == "Overview"
    assert all(c.sop_id == "demo" and c.version == "1.0" for c in chunks)
    assert chunks[1].search_text.startswith("Demo runbook - Symptoms\n")


def test_ids_are_stable_when_text_changes() -> None:
    before = _chunks("## Symptoms\n\nA.\n\n## Resolution\n\nB.\n")
    after = _chunks("## Symptoms\n\nA, rewritten at length.\n\n## Resolution\n\nB.\n")
    assert [c.chunk_id for c in before] == [c.chunk_id for c in after]
    assert before[0].content_hash("m") != after[0].content_hash("m")
    assert before[1].content_hash("m") == after[1].content_hash("m")
    assert before[1].content_hash("m") != before[1].content_hash("other-model")


def test_long_section_split_into_parts() -> None:
    paragraph = " ".join(["word"] * 60)
    chunks = _chunks("## Long\n\n" + "\n\n".join([paragraph] * 5), max_words=130)
    assert [c.chunk_id for c in chunks] == ["demo#long", "demo#long~2", "demo#long~3"]
    assert all(len(c.text.split()) <= 130 for c in chunks)


def test_heading_inside_code_fence_is_text() -> None:
    chunks = _chunks("## Query\n\n```sql\n# not a heading\nselect 1\n```\n")
    assert [c.chunk_id for c in chunks] == ["demo#query"]
    assert "# not a heading" in chunks[0].text


def test_units_are_items_with_context() -> None:
    text = (
        "Intro paragraph here.\n\n- first item text\n  continues\n- second item text\n\n"
        "| a | b |\n|---|---|\n| x y | z |"
    )
    assert split_units(text) == [
        "Intro paragraph here.", "- first item text continues", "- second item text",
        "| a | b |", "| x y | z |",
    ]
    chunk = _chunks("## Symptoms\n\n- cash short of invoice\n- remittance missing lines\n")[0]
    assert chunk.unit_texts == [
        "Symptoms: - cash short of invoice",
        "Symptoms: - remittance missing lines",
    ]


def test_slugify() -> None:
    assert slugify("BD1 to BD2: data complete") == "bd1-to-bd2-data-complete"
    assert slugify("???") == "section"


def test_asked_as_questions_become_items() -> None:
    chunk = _chunks(
        '## Decision steps\n\n1. Resend inside the window.\n\n'
        '> Asked as: "Can we still send it?" · "Is a retry safe?"\n'
    )[0]
    assert chunk.unit_texts == [
        "Decision steps: 1. Resend inside the window.",
        "Decision steps: Can we still send it?",
        "Decision steps: Is a retry safe?",
    ]
    assert "Asked as" in chunk.text  # kept in the passage: keyword search sees it too
