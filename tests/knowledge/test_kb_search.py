"""Retrieval on the built-in corpus: filters, fusion finding exact terms, citable passages."""

from __future__ import annotations

import pytest

from knowledge import KBConfig, KnowledgeBase, Passage, search
from knowledge.fusion import promote_exact, rrf
from knowledge.keyword import BM25Index


@pytest.mark.parametrize(
    ("query", "sop_id"),
    [
        # Exact identifiers a sentence model cannot read (issue 3).
        ("CPPO", "reseller_margin_mismatch"),
        ("BatchMeterUsage", None),  # several metering runbooks name it
        ("DISBURSEMENT_FAILURE", "disbursement_failure"),
        ("charge_side BUYING rows", "reseller_margin_mismatch"),
        ("SELLER_TAX_SHARE", "tax_discrepancy"),
        ("TimestampOutOfBoundsException on a batch", "rejected_metering"),
    ],
)
def test_fused_finds_exact_terms(kb: KnowledgeBase, query: str, sop_id: str | None) -> None:
    top = kb.search(query, k=3)
    term = query.split()[0]
    assert any(term.lower() in p.text.lower() for p in top), [p.chunk_id for p in top]
    if sop_id:
        assert sop_id in {p.sop_id for p in top}


def test_keyword_side_finds_identifiers_vector_side_finds_meaning(kb: KnowledgeBase) -> None:
    top = kb.search("DISBURSEMENT_FAILURE", k=1, mode="keyword")
    assert top[0].sop_id == "disbursement_failure"
    # No word in common with the runbook's title: only the meaning connects them.
    top = kb.search("the money never reached our bank account", k=3, mode="vector")
    assert "disbursement_failure" in {p.sop_id for p in top}


def test_category_and_channel_filters(kb: KnowledgeBase) -> None:
    for mode in ("fused", "vector", "keyword"):
        hits = kb.search("refund the customer", categories=["tax_discrepancy"], k=8, mode=mode)  # type: ignore[arg-type]
        assert hits and all("tax_discrepancy" in p.categories for p in hits)
        hits = kb.search("payout", channels=["direct"], k=8, mode=mode)  # type: ignore[arg-type]
        assert hits and all("direct" in p.channels for p in hits)
        assert "disbursement_failure" not in {p.sop_id for p in hits}  # a marketplace-only runbook
    both = kb.search(
        "fee", categories=["listing_fee_mismatch", "fx_variance"], channels=["reseller"], k=10
    )
    assert both and all(
        {"listing_fee_mismatch", "fx_variance"} & set(p.categories) and "reseller" in p.channels
        for p in both
    )


def test_unknown_filter_values_are_errors(kb: KnowledgeBase) -> None:
    with pytest.raises(ValueError, match="unknown categories"):
        kb.search("x", categories=["refunds"])
    with pytest.raises(ValueError, match="unknown channels"):
        kb.search("x", channels=["aws"])
    with pytest.raises(ValueError, match="k must be"):
        kb.search("x", k=0)


def test_passages_are_ready_to_cite(kb: KnowledgeBase) -> None:
    hits = kb.search("who approves a write-off of 60,000 dollars", k=5)
    assert len(hits) == 5
    assert len({p.chunk_id for p in hits}) == 5
    p = hits[0]
    assert isinstance(p, Passage) and p.sop_id and p.version and p.heading and p.text
    assert p.chunk_id.startswith(p.sop_id + "#")
    assert p.citation == f"{p.sop_id} v{p.version} § {p.heading}"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_empty_query_returns_nothing(kb: KnowledgeBase) -> None:
    assert kb.search("   ") == []


def test_module_level_search_with_explicit_config(kb_config: KBConfig) -> None:
    hits = search("payout bounced", categories=["disbursement_failure"], k=2, config=kb_config)
    assert [p.sop_id for p in hits] == ["disbursement_failure"] * 2


def test_deterministic(kb: KnowledgeBase) -> None:
    query = "customer paid part of the invoice"
    assert kb.search(query, k=5) == kb.search(query, k=5)


def test_rrf_rewards_agreement_and_keeps_single_finds() -> None:
    fused = rrf([([(1, 0.9), (2, 0.8)], 1.0), ([(2, 7.0), (3, 5.0)], 1.0)])
    assert [doc for doc, _ in fused] == [2, 1, 3]


def test_rare_identifier_is_promoted_into_the_top_three() -> None:
    docs = ["payout failed", "payout late", "payout bounced", "row DISBURSEMENT_FAILURE"] + [
        f"filler text number {i}" for i in range(40)
    ]
    bm25 = BM25Index(docs)
    ranked = [(0, 0.5), (1, 0.4), (2, 0.3), (5, 0.2), (3, 0.1)]  # vectors disagree
    keyword = [(3, 9.0)]
    out = promote_exact(ranked, keyword, "DISBURSEMENT_FAILURE payouts", bm25)
    assert [d for d, _ in out][:3] == [0, 1, 3]
    assert [s for _, s in out] == sorted((s for _, s in out), reverse=True)
    # A common word is no identifier: nothing moves.
    assert promote_exact(ranked, keyword, "PAYOUT", bm25) == ranked


def test_glossary_travels_with_the_index(kb: KnowledgeBase) -> None:
    expanded = kb._snap.glossary.expand_text("AWS took too much commission")
    assert "listing fee" in expanded
