"""Retrieval on the built-in corpus: filters, fusion finding exact terms, citable passages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge import KBConfig, KnowledgeBase, Passage, search
from knowledge.fusion import FusionWeights, Signals, fuse, promote_exact
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


def test_fusion_weighs_each_signal() -> None:
    signals = Signals(vector=np.array([0.6, 0.5, 0.2]), keyword=np.array([0.0, 0.4, 1.0]),
                      item_keyword=np.array([0.0, 0.5, 0.0]))
    # Agreement of both retrievers beats either alone; weights change the order.
    assert list(np.argsort(-fuse(signals, FusionWeights(1.0, 0.5, 0.5)))) == [1, 2, 0]
    assert list(np.argsort(-fuse(signals, FusionWeights(1.0, 0.0, 0.0)))) == [0, 1, 2]


def test_signals_cover_every_section_on_one_scale(kb: KnowledgeBase) -> None:
    s = kb.signals("payout bounced, bank details rejected")
    n = len(kb)
    assert s.vector.shape == s.keyword.shape == s.item_keyword.shape == (n,)
    assert -1.0 <= s.vector.min() and s.vector.max() <= 1.0
    # Keyword scores are a share of a whole-query match: a passage matching only some of
    # the words scores well under one that matches them all.
    assert 0.0 <= s.keyword.min() and 0.3 < s.keyword.max() < 3.0
    assert kb.chunk_ids()[int(np.argmax(s.keyword))].startswith("disbursement_failure#")


def test_keyword_scale_does_not_inflate_a_single_common_word() -> None:
    bm25 = BM25Index(["usage was sent late", "payout failed", "bank details rejected"] + [
        f"filler text number {i}" for i in range(20)
    ])
    terms = {"gigabyt": 1.0, "terabyt": 1.0, "sent": 1.0}
    best = bm25.scores(terms).max() / bm25.full_match(terms)
    assert 0 < best < 0.5  # one word of three matched


def test_small_to_big_an_item_finds_its_section(kb: KnowledgeBase) -> None:
    # "Decision steps" of dropped metering is about many things; one item is about
    # unsubscribed customers. The section scores its best item.
    question = "customer unsubscribed, how long can we still send the remaining usage"
    s = kb.signals(question)
    section = kb.chunk_ids().index("dropped_metering#decision-steps")
    whole = kb.embedding_function([kb.passage_text("dropped_metering#decision-steps")])[0]
    query = kb.embedding_function([question])[0]
    assert s.vector[section] > float(np.dot(whole, query))


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
    terms = kb._snap.glossary.expand("AWS took too much commission")
    assert terms["commission"] == 1.0  # the user's own words count fully
    assert terms["list"] == terms["fee"] == kb._snap.glossary.weight  # "listing fee", weaker


def test_glossary_matches_phrases_not_scattered_words() -> None:
    from knowledge.keyword import Glossary

    glossary = Glossary([["listing fee", "commission"], ["bank details", "iban"]])
    assert "commission" in glossary.expand("the listing fee is wrong")
    assert "commission" not in glossary.expand("the fee for listing is wrong")
    assert "iban" in glossary.expand("Bank details changed")


def test_chat_shorthand_is_written_out_whole_words_only() -> None:
    from knowledge.keyword import Glossary

    glossary = Glossary([], abbreviations={"cust": "customer", "inv": "invoice", "w/o": "without",
                                           "sub": "subscription"})
    assert glossary.write_out("Cust paid the mkt INV w/o the fee") == (
        "customer paid the mkt invoice without the fee")
    # Inside a longer word, nothing changes.
    assert glossary.write_out("invoice subject customer") == "invoice subject customer"
    assert Glossary([]).write_out("cust") == "cust"


def test_shorthand_travels_with_the_index_and_is_used_by_search(kb: KnowledgeBase) -> None:
    glossary = kb._snap.glossary
    assert glossary.abbreviations["cust"] == "customer"
    written = kb.signals("cust moved to the mkt and we kept invoicing them")
    plain = kb.signals("customer moved to the marketplace and we kept invoicing them")
    assert np.allclose(written.vector, plain.vector) and np.allclose(written.keyword, plain.keyword)


def test_a_folder_glossary_adds_shorthand_and_bad_entries_name_the_file(tmp_path: Path) -> None:
    from knowledge.keyword import load_abbreviations

    (tmp_path / "glossary.yaml").write_text(
        "groups:\n  - [edp, enterprise discount]\nabbreviations:\n  cust: client\n  fin: finance\n",
        encoding="utf-8")
    found = load_abbreviations([tmp_path])
    assert found["fin"] == "finance" and found["cust"] == "client"  # the folder's entry wins
    assert found["mkt"] == "marketplace"  # the built-in ones stay
    (tmp_path / "glossary.yaml").write_text("abbreviations:\n  - cust\n", encoding="utf-8")
    with pytest.raises(ValueError, match="glossary.yaml: glossary abbreviations"):
        load_abbreviations([tmp_path])


def test_builtin_glossary_joins_accounts_payable_and_the_ap_team() -> None:
    from knowledge import BUILTIN_SOP_DIR
    from knowledge.keyword import Glossary, load_glossary

    terms = Glossary(load_glossary([BUILTIN_SOP_DIR])).expand("their accounts payable paid")
    assert terms["ap"] == pytest.approx(0.4)  # from "AP team", at the expansion weight


def test_builtin_glossary_knows_a_postmortem_is_an_incident_review() -> None:
    from knowledge import BUILTIN_SOP_DIR
    from knowledge.keyword import Glossary, load_glossary, stem

    terms = Glossary(load_glossary([BUILTIN_SOP_DIR])).expand("writeup for the outage")
    assert terms[stem("review")] == pytest.approx(0.4)
