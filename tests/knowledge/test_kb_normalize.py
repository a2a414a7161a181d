"""Dates and amounts written the runbooks' way before a query is searched."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge import KnowledgeBase
from knowledge.normalize import annotate, annotate_amounts, annotate_periods


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("300 up on the 30th and 300 down on the 1st",
         "300 up on the 30th (last day of the month) and 300 down on the 1st "
         "(first day of the month)"),
        ("feb 28 is short, March 1st is over",
         "feb 28 (last day of the month) is short, March 1st (first day of the month) is over"),
        ("1 March usage, 31st Jan usage",
         "1 March (first day of the month) usage, 31st Jan (last day of the month) usage"),
        ("what is done on the third business day", "what is done on the third business day (BD3)"),
        ("2nd working day", "2nd working day (BD2)"),
        # Not a month boundary, not a date, or a counted thing: unchanged.
        ("refund sent on nov 2", "refund sent on nov 2"),
        ("apr 31 and feb 27", "apr 31 and feb 27"),
        ("AWS paid on the 15th", "AWS paid on the 15th"),
        ("the 1st instalment is missing", "the 1st instalment is missing"),
        ("the marketplace 1st tier", "the marketplace 1st tier"),
    ],
)
def test_period_boundaries_and_business_days(query: str, expected: str) -> None:
    assert annotate_periods(query) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cust overcharged ~$14k. who approves", "cust overcharged ~$14k (USD 14,000). who approves"),
        ("a 9,500 dollar difference", "a 9,500 dollar (USD 9,500) difference"),
        ("approval for a 12k credit?", "approval for a 12k (USD 12,000) credit?"),
        ("$300 tax diff", "$300 (USD 300) tax diff"),
        # Already written as the runbooks do, or a count of things: unchanged.
        ("USD 62,400 refund", "USD 62,400 refund"),
        ("5k units over", "5k units over"),
        ("dimension api_calls 1200", "dimension api_calls 1200"),
    ],
)
def test_money_amounts(query: str, expected: str) -> None:
    assert annotate_amounts(query) == expected


def test_a_query_without_dates_or_amounts_is_unchanged() -> None:
    query = "payout failed because the bank account was closed, who do we chase"
    assert annotate(query) == query


def test_search_sees_the_annotated_query(kb: KnowledgeBase) -> None:
    # The month-end wording reaches both retrievers: the date query scores every section as
    # the written-out one does, and differently from the bare dates.
    dated = kb.signals("we are 300 units up on the 30th and 300 down on the 1st")
    written = kb.signals("we are 300 units up on the 30th (last day of the month) and 300 down "
                         "on the 1st (first day of the month)")
    assert np.allclose(dated.vector, written.vector)
    assert np.allclose(dated.keyword, written.keyword)
    bare = kb.signals("we are 300 units up on the 30 and 300 down on the 1")
    assert not np.allclose(dated.keyword, bare.keyword)


def test_annotating_twice_changes_nothing() -> None:
    once = annotate("feb 28 short, on the 1st over, $14k, third business day")
    assert annotate(once) == once
