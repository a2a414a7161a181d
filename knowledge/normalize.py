"""Calendar dates and money amounts in a query, written the way the runbooks write them.

People name a period boundary by its date ("300 up on the 30th and 300 down on the 1st",
"feb 28 is short, mar 1 is over"), a close-calendar day by its ordinal ("the third business
day") and an amount in chat shorthand ("~$14k", "a 9,500 dollar difference"). The runbooks
say "the last day of the month", "BD3" and "USD 10,000". Neither retriever can bridge that:
BM25 sees no shared word, and the sentence model does not know that the 30th is a month end
or that 14k is above a 10,000 threshold.

Like the chat shorthand of ``glossary.yaml``, each such mention is kept and followed by the
runbooks' wording in parentheses ("the 30th (last day of the month)", "$14k (USD 14,000)"),
before the query is embedded and keyword-matched. These are calendar and currency facts, not
topic words: no runbook, heading or eval phrase is named here.
"""

from __future__ import annotations

import calendar
import re

FIRST_DAY = "first day of the month"
LAST_DAY = "last day of the month"

_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name}
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"[0-9]{1,2}(?:st|nd|rd|th)?"
#: "feb 28", "March 1st", "1 March", "31st Jan".
_MONTH_DAY_RE = re.compile(
    rf"\b(?P<m1>{_MONTH})\s+(?P<d1>{_DAY})\b|\b(?P<d2>{_DAY})\s+(?P<m2>{_MONTH})(?![a-z])",
    re.IGNORECASE,
)
#: "on the 30th", "the 1st": a day of the month without its month (not "the 1st instalment").
_ORDINAL_DAY_RE = re.compile(
    r"\b(?:the|on)\s+([0-9]{1,2})(?:st|nd|rd|th)\b(?!\s+(?:time|instal|install|invoice|year|yr"
    r"|month|quarter|payment|attempt|try|week|line|item|page|row|run|batch|case|reminder)\w*)",
    re.IGNORECASE,
)
_ORDINAL_WORDS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
                  "ninth", "tenth")
#: "the third business day", "2nd working day": the close calendar's BD1, BD2, ...
_BUSINESS_DAY_RE = re.compile(
    r"\b(" + "|".join(_ORDINAL_WORDS) + r"|[0-9]{1,2}(?:st|nd|rd|th))\s+(?:business|working)\s+day\b",
    re.IGNORECASE,
)
#: Units that make "5k" a count, not an amount of money.
_COUNT_UNITS = (r"units?|records?|rows?|events?|calls?|hours?|requests?|api|gb|mb|tb|users?"
                r"|seats?|licen[cs]es?|customers?|accounts?|invoices?")
#: "$14k", "$1,240", "USD 62,400", "9,500 dollars", "12k" (thousands, not followed by a
#: counted unit).
_MONEY_RE = re.compile(
    r"(?:\$|\busd\s?)\s?(?P<a>[0-9][0-9,]*(?:\.[0-9]+)?)(?:\s?(?P<ka>k)\b)?"
    r"|\b(?P<b>[0-9][0-9,]*(?:\.[0-9]+)?)(?:\s?(?P<kb>k)\b(?!\s+(?:" + _COUNT_UNITS + r")\b)"
    r"|\s?(?:dollars?|usd|bucks)\b)",
    re.IGNORECASE,
)


def _day_number(text: str) -> int:
    return int(re.match(r"[0-9]+", text).group())  # type: ignore[union-attr]


def _boundary(month: int | None, day: int) -> str | None:
    """"first day of the month" for the 1st, "last day of the month" for a month's last day
    (any of the 30th and 31st when the month is not said; the 28th or 29th of February)."""
    if day == 1:
        return FIRST_DAY
    if month is None:
        return LAST_DAY if day in (30, 31) else None
    if month == 2:
        return LAST_DAY if day in (28, 29) else None
    return LAST_DAY if day == calendar.monthrange(2001, month)[1] else None


def _noted(match: re.Match[str], note: str | None) -> str:
    """The mention followed by ``note`` in parentheses, unless a note already follows it
    (annotating twice changes nothing)."""
    if not note or match.string[match.end():].lstrip().startswith(f"({note})"):
        return match.group(0)
    return f"{match.group(0)} ({note})"


def annotate_periods(query: str) -> str:
    """Month-boundary dates followed by "(first/last day of the month)", business-day
    ordinals by "(BD<n>)"."""

    def month_day(match: re.Match[str]) -> str:
        month = (match.group("m1") or match.group("m2"))[:3].lower()
        day = _day_number(match.group("d1") or match.group("d2"))
        return _noted(match, _boundary(_MONTHS.get(month), day))

    def ordinal_day(match: re.Match[str]) -> str:
        return _noted(match, _boundary(None, int(match.group(1))))

    def business_day(match: re.Match[str]) -> str:
        word = match.group(1).lower()
        number = _ORDINAL_WORDS.index(word) + 1 if word in _ORDINAL_WORDS else _day_number(word)
        return _noted(match, f"BD{number}")

    query = _MONTH_DAY_RE.sub(month_day, query)
    query = _ORDINAL_DAY_RE.sub(ordinal_day, query)
    return _BUSINESS_DAY_RE.sub(business_day, query)


def annotate_amounts(query: str) -> str:
    """Money amounts followed by their value as the runbooks write it: "(USD 14,000)"."""

    def amount(match: re.Match[str]) -> str:
        try:
            value = float((match.group("a") or match.group("b")).replace(",", ""))
        except ValueError:  # "1,2,," and the like: not an amount
            return match.group(0)
        if match.group("ka") or match.group("kb"):
            value *= 1000
        elif match.group(0).lower().startswith("usd"):
            return match.group(0)  # already written the runbooks' way
        return _noted(match, f"USD {value:,.0f}")

    return _MONEY_RE.sub(amount, query)


def annotate(query: str) -> str:
    """The query with its dates and amounts also written the runbooks' way."""
    return annotate_amounts(annotate_periods(query))
