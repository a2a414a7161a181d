"""SOP files: front matter validation with errors that name the file, and the shipped corpus."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from knowledge import BUILTIN_SOP_DIR, CATEGORIES, CHANNELS, SOPError, load_corpus
from knowledge.sop import parse_sop, read_sop

GOOD = """---
id: sample
title: Sample runbook
version: 2
categories: [dropped_metering, fx_variance]
channels: [aws_marketplace]
owner: billing-ops
updated: 2025-10-01
---
# Sample runbook

## Symptoms

Something.
"""

#: The evidence tools the triage agent has; runbooks must name them (issue 3).
TOOLS = (
    "get_exception", "get_contract_terms", "get_agreement_state", "get_usage_summary",
    "get_metering_results", "get_partner_billing_events", "get_invoices_and_credits",
    "get_payments_and_disbursements", "check_listing_fee", "get_account_history",
)
REQUIRED_SECTIONS = ("## Symptoms", "## Evidence to pull", "## Decision steps", "## Resolution")


def test_parses_front_matter_and_body() -> None:
    sop = parse_sop(GOOD, Path("sample.md"))
    assert sop.id == "sample"
    assert sop.version == "2"  # YAML int read as a label
    assert sop.categories == ("dropped_metering", "fx_variance")
    assert sop.body.startswith("# Sample runbook")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "file is empty"),
        ("   \n\n", "file is empty"),
        ("# Just markdown\n\nno front matter\n", "no front matter"),
        ("---\nid: [unclosed\n---\n# T\n", "not valid YAML"),
        ("---\n- a\n- b\n---\n# T\n", "must be a mapping"),
        (GOOD.split("# Sample")[0], "no body"),
        (
            GOOD.replace("## Symptoms", "Symptoms").replace("# Sample runbook", "Sample"),
            "no markdown heading",
        ),
        (GOOD.replace("fx_variance", "fx_varience"), "unknown ['fx_varience']"),
        (GOOD.replace("aws_marketplace", "aws"), "channels"),
        (GOOD.replace("owner: billing-ops\n", ""), "owner: Field required"),
        (GOOD.replace("updated: 2025-10-01", "updated: last week"), "updated"),
        (GOOD.replace("id: sample", "id: Sample Runbook"), "must be lowercase"),
        (GOOD.replace("owner:", "reviewer: x\nowner:"), "unknown keys ['reviewer']"),
        (GOOD.replace("[dropped_metering, fx_variance]", "[]"), "non-empty"),
    ],
)
def test_bad_sop_error_names_the_file(text: str, message: str) -> None:
    path = Path("sops/broken.md")
    with pytest.raises(SOPError) as info:
        parse_sop(text, path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_empty_and_binary_files_on_disk(tmp_path: Path) -> None:
    empty = tmp_path / "empty.md"
    empty.write_text("", encoding="utf-8")
    binary = tmp_path / "binary.md"
    binary.write_bytes(b"\xff\xfe\x00garbage\x81")
    with pytest.raises(SOPError, match=re.escape(str(empty)) + ": file is empty"):
        read_sop(empty)
    with pytest.raises(SOPError, match=re.escape(str(binary)) + ": not UTF-8"):
        read_sop(binary)


def test_corrupt_file_stops_loading_and_is_named(tmp_path: Path, make_sop) -> None:  # type: ignore[no-untyped-def]
    make_sop(tmp_path, "fine", "## A\n\ntext")
    bad = tmp_path / "zz_bad.md"
    bad.write_text("---\nid: x\n", encoding="utf-8")
    with pytest.raises(SOPError) as info:
        load_corpus([tmp_path])
    assert info.value.path == bad


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(SOPError, match="does not exist"):
        load_corpus([tmp_path / "missing"])
    (tmp_path / "README.md").write_text("# not a SOP", encoding="utf-8")
    with pytest.raises(SOPError, match="holds no .md file"):
        load_corpus([tmp_path])  # READMEs are skipped, so the folder is empty


def test_duplicate_id_in_one_folder(tmp_path: Path, make_sop) -> None:  # type: ignore[no-untyped-def]
    make_sop(tmp_path, "a", "## A\n\ntext")
    (tmp_path / "copy.md").write_text((tmp_path / "a.md").read_text(), encoding="utf-8")
    with pytest.raises(SOPError, match="duplicate SOP id 'a'"):
        load_corpus([tmp_path])


def test_later_folder_overrides_same_id(tmp_path: Path, make_sop) -> None:  # type: ignore[no-untyped-def]
    make_sop(tmp_path / "builtin", "a", "## A\n\nold", version="1")
    make_sop(tmp_path / "builtin", "b", "## B\n\nkept")
    make_sop(tmp_path / "company", "a", "## A\n\nnew", version="7")
    corpus = load_corpus([tmp_path / "builtin", tmp_path / "company"])
    by_id = {s.id: s for s in corpus.sops}
    assert by_id["a"].version == "7" and "new" in by_id["a"].body
    assert set(by_id) == {"a", "b"}
    assert [o[0] for o in corpus.overridden] == ["a"]


def test_builtin_corpus_covers_the_taxonomy() -> None:
    corpus = load_corpus([BUILTIN_SOP_DIR])
    ids = {s.id for s in corpus.sops}
    # One runbook per category, with the category's own slug as id (DOMAIN.md taxonomy).
    assert set(CATEGORIES) <= ids
    assert {
        "materiality_approval_matrix", "partner_escalation_guide", "month_end_close_checklist",
        "credits_refunds_policy", "metering_pipeline_incidents", "handling_outside_text",
    } <= ids
    for sop in corpus.sops:
        assert set(sop.channels) <= set(CHANNELS)
        if sop.id in CATEGORIES:
            assert sop.id in sop.categories
            assert any(tool in sop.body for tool in TOOLS), f"{sop.id} names no evidence tool"
            for section in REQUIRED_SECTIONS:
                assert section in sop.body, f"{sop.id} lacks {section}"


def test_materiality_matrix_states_the_defaults() -> None:
    sops = load_corpus([BUILTIN_SOP_DIR]).sops
    matrix = next(s for s in sops if s.id == "materiality_approval_matrix")
    assert "USD 10,000" in matrix.body
    for category in ("refund_discrepancy", "tax_discrepancy", "channel_conflict"):
        assert category in matrix.body
