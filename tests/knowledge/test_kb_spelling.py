"""Typos in chat-style queries are corrected against the runbooks' own words."""

from __future__ import annotations

from knowledge import KnowledgeBase
from knowledge.spelling import Speller, model_words

CORPUS = ["Resend the missing hours; the customer unsubscribed. Should we escalate?",
          "Disbursement failed: bank details rejected."]


def test_one_edit_typos_become_runbook_words() -> None:
    speller = Speller(CORPUS, known=frozenset())
    assert speller.correct("sholud we resend the miissing hours") == (
        "should we resend the missing hours")
    assert speller.correct("customer unusbscribed") == "customer unsubscribed"  # swapped
    assert speller.correct("Disbursment failed") == "disbursement failed"  # dropped letter


def test_known_words_identifiers_and_short_words_are_left_alone() -> None:
    speller = Speller(CORPUS, stems={"reject"}, known=frozenset({"night"}))
    assert speller.correct("night") == "night"  # a real word, even one edit from nothing here
    assert speller.correct("rejecting") == "rejecting"  # an inflection of an indexed term
    assert speller.correct("BatchMeterUsag DISBURSMENT") == "BatchMeterUsag DISBURSMENT"
    assert speller.correct("hurs") == "hurs"  # under 5 letters: too many neighbours
    assert speller.correct("xissing") == "xissing"  # typos rarely hit the first letter


def test_contractions_typed_without_their_apostrophe_are_english_not_typos() -> None:
    speller = Speller(["The agent drafts; the partner wasn't told."], known=frozenset())
    assert speller.correct("the numbers arent right and they werent told") == (
        "the numbers arent right and they werent told")  # not "agent", not "went"
    assert speller.correct("the agnet drafts") == "the agent drafts"  # a real typo still is


def test_the_model_vocabulary_knows_common_english_words() -> None:
    words = model_words()
    assert {"night", "light", "bother", "consumed"} <= words and "sholud" not in words


def test_search_reads_through_a_typo(kb: KnowledgeBase) -> None:
    clean = kb.search("the payout was returned by our bank", k=3)
    typo = kb.search("the payuot was retruned by our bank", k=3)
    assert [p.chunk_id for p in typo] == [p.chunk_id for p in clean]
