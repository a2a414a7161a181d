"""Check a decision and its draft against the evidence, before anyone sees them.

Every amount, identifier, date and e-mail address in the draft must be found in what the
case was given (the exception, the tool results, the retrieved SOP passages, the configured
contacts). Amounts compare exactly as Decimal: ``USD 1,234.50`` matches evidence ``1234.5``,
and, because drafts print money to the currency's minor unit, ``1234.567`` in the evidence
also admits ``1,234.57`` (its value rounded half-up to cents) — nothing else.

The decision itself is checked too: the action must suit the category (`agent.taxonomy`),
and the record and SOP ids it cites must be ones it was shown.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from agent.llm.base import CaseInput
from agent.schemas import Classification, Draft, EscalateTo
from agent.taxonomy import is_compatible
from billing.settings import Settings

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTH_WORD = r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"

EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
ISO_DATE_RE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b")
DAY_MONTH_YEAR_RE = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(" + _MONTH_WORD + r")\s+(\d{4})\b", re.IGNORECASE)
MONTH_DAY_YEAR_RE = re.compile(r"\b(" + _MONTH_WORD + r")\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b", re.IGNORECASE)
MONTH_YEAR_RE = re.compile(r"\b(" + _MONTH_WORD + r")\s+(\d{4})\b", re.IGNORECASE)
ISO_MONTH_RE = re.compile(r"\b(\d{4})-(0[1-9]|1[0-2])\b")
TOKEN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_\-./:]*[A-Za-z0-9])?")
# A number with a unit glued on ("6h", "30d", "2nd") reads as a number, not an id.
_NUMBER_WITH_UNIT = re.compile(r"^\d+(?:\.\d+)?(?:h|hr|hrs|d|m|mo|s|k|x|st|nd|rd|th|am|pm)$", re.IGNORECASE)
NUMBER_RE = re.compile(
    r"(?<![\w.])(?:(?P<cur>[A-Z]{3})\s?|(?P<sym>[$€£¥])\s?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<unit>(?:h|hr|hrs|d|m|mo|s|k|x|st|nd|rd|th|am|pm)\b)?(?![\w])"
    r"(?P<pct>\s?%)?(?:\s(?P<cur2>[A-Z]{3})\b)?"
)
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Facts:
    """What the case was given, in comparable form."""

    numbers: frozenset[Decimal]
    ids: frozenset[str]
    dates: frozenset[date]
    months: frozenset[str]  # "YYYY-MM"
    emails: frozenset[str]
    chunk_ids: frozenset[str]
    recipients: frozenset[str]


@dataclass
class Claims:
    """What a text asserts: the amounts, ids, dates, months and addresses it contains."""

    numbers: list[tuple[str, Decimal, bool]] = field(default_factory=list)  # (as written, value, is_percent)
    ids: list[str] = field(default_factory=list)
    dates: list[tuple[str, date]] = field(default_factory=list)
    months: list[tuple[str, str]] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)


@dataclass
class VerifyReport:
    """Problems found; `draft_problems` can be repaired by a redraft, `decision_problems` cannot."""

    draft_problems: list[str] = field(default_factory=list)
    decision_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.draft_problems and not self.decision_problems

    @property
    def problems(self) -> list[str]:
        return [*self.decision_problems, *self.draft_problems]


# -- facts ------------------------------------------------------------------------------------


def _walk(value: Any) -> Iterator[Any]:
    """Every scalar in a JSON-like value (dict keys included: tools key results by record id)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _walk(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from _walk(v)
    elif value is not None:
        yield value


def _to_decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _number_forms(value: Decimal) -> Iterator[Decimal]:
    # The value as stored, and as a draft may print it: without sign, rounded to cents or units.
    magnitude = abs(value)
    yield magnitude
    try:
        yield magnitude.quantize(_CENT, rounding=ROUND_HALF_UP)
        yield magnitude.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    except InvalidOperation:  # too many digits to round; the value itself still counts
        return


def _month_bounds(month: str) -> tuple[date, date]:
    year, mon = int(month[:4]), int(month[5:7])
    return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])


def _add_text_facts(text: str, numbers: set[Decimal], ids: set[str], dates: set[date], months: set[str],
                    emails: set[str]) -> None:
    ids.add(text)
    if len(text) <= 64 and " " not in text and "@" not in text:
        # Most evidence strings are one value (an amount, an id, a timestamp): the fast path.
        whole = _to_decimal(text)
        if whole is not None:
            numbers.update(_number_forms(whole))
            return
        m = ISO_DATE_RE.match(text)
        if m and (d := _safe_date(m.group(1), int(m.group(2)), m.group(3))) is not None:
            dates.add(d)
            months.add(f"{d:%Y-%m}")
            return
        if ISO_MONTH_RE.fullmatch(text):
            months.add(text)
            return
    emails.update(m.group(0).lower() for m in EMAIL_RE.finditer(text))
    claims = extract_claims(text)
    for _, d in claims.dates:
        dates.add(d)
        months.add(f"{d:%Y-%m}")
    for _, m in claims.months:
        months.add(m)
    ids.update(claims.ids)
    for _, value, _pct in claims.numbers:
        numbers.update(_number_forms(value))
    whole = _to_decimal(text.strip())
    if whole is not None:
        numbers.update(_number_forms(whole))


def collect_facts(case: CaseInput, settings: Settings) -> Facts:
    """Everything a draft may cite for this case."""
    numbers: set[Decimal] = set()
    ids: set[str] = set()
    dates: set[date] = set()
    months: set[str] = set()
    emails: set[str] = set()
    sources: list[Any] = [case.exception, case.evidence]
    sources.extend(p.model_dump() for p in case.sop_passages)
    sources.extend(f"v{p.version}" for p in case.sop_passages)
    for scalar in _walk(sources):
        if isinstance(scalar, bool):
            continue
        if isinstance(scalar, int | Decimal):
            numbers.update(_number_forms(Decimal(scalar)))
            ids.add(str(scalar))
        elif isinstance(scalar, float):
            numbers.update(_number_forms(Decimal(repr(scalar))))
        elif isinstance(scalar, str) and scalar:
            _add_text_facts(scalar, numbers, ids, dates, months, emails)
    # The first and last day of every month in the evidence may be named ("1-31 October").
    for month in months:
        dates.update(_month_bounds(month))
    # Policy figures a draft may quote (the approval threshold).
    numbers.update(_number_forms(settings.routing.materiality_usd))
    contacts = settings.email
    recipients = {*contacts.partner_contacts.values(), contacts.customer_contact_role, contacts.internal_owner}
    emails.update(e.lower() for r in [*recipients, contacts.sender] for e in EMAIL_RE.findall(r))
    return Facts(
        numbers=frozenset(numbers), ids=frozenset(ids), dates=frozenset(dates), months=frozenset(months),
        emails=frozenset(emails), chunk_ids=frozenset(p.chunk_id for p in case.sop_passages),
        recipients=frozenset(recipients),
    )


# -- claims -----------------------------------------------------------------------------------


def _safe_date(year: str, month: int, day: str) -> date | None:
    try:
        return date(int(year), month, int(day))
    except ValueError:
        return None


def extract_claims(text: str) -> Claims:
    """Find the addresses, dates, months, ids and numbers of a text, in that order (each found
    piece is blanked out so that, e.g., the digits of a date are not read again as an amount)."""
    claims = Claims()
    chars = list(text)

    def blank(match: re.Match[str]) -> None:
        chars[match.start():match.end()] = " " * (match.end() - match.start())

    def current() -> str:
        return "".join(chars)

    for m in EMAIL_RE.finditer(current()):
        claims.emails.append(m.group(0).lower())
        blank(m)
    for m in ISO_DATE_RE.finditer(current()):
        d = _safe_date(m.group(1), int(m.group(2)), m.group(3))
        if d is not None:
            claims.dates.append((m.group(0), d))
            blank(m)
    for m in DAY_MONTH_YEAR_RE.finditer(current()):
        d = _safe_date(m.group(3), _MONTHS[m.group(2).lower().rstrip(".")], m.group(1))
        if d is not None:
            claims.dates.append((m.group(0), d))
            blank(m)
    for m in MONTH_DAY_YEAR_RE.finditer(current()):
        d = _safe_date(m.group(3), _MONTHS[m.group(1).lower().rstrip(".")], m.group(2))
        if d is not None:
            claims.dates.append((m.group(0), d))
            blank(m)
    for m in MONTH_YEAR_RE.finditer(current()):
        claims.months.append((m.group(0), f"{m.group(2)}-{_MONTHS[m.group(1).lower().rstrip('.')]:02d}"))
        blank(m)
    for m in ISO_MONTH_RE.finditer(current()):
        claims.months.append((m.group(0), f"{m.group(1)}-{m.group(2)}"))
        blank(m)
    for m in TOKEN_RE.finditer(current()):
        token = m.group(0)
        if _looks_like_id(token):
            claims.ids.append(token)
            blank(m)
    for m in NUMBER_RE.finditer(current()):
        value = _to_decimal(m.group("num"))
        unit = (m.group("unit") or "").lower()
        if value is None or unit in ("st", "nd", "rd", "th", "am", "pm"):  # ordinals and clock times
            continue
        if unit == "k":
            value *= 1000
        has_context = bool(m.group("cur") or m.group("sym") or m.group("cur2") or m.group("pct") or unit)
        written = m.group("num")
        # Bare single digits are list numbers and counts of steps, not amounts.
        if not has_context and "." not in written and "," not in written and value < 10:
            continue
        claims.numbers.append((m.group(0).strip(), value, bool(m.group("pct"))))
    return claims


def _looks_like_id(token: str) -> bool:
    if not any(c.isdigit() for c in token) or _NUMBER_WITH_UNIT.match(token):
        return False
    if token.isdigit():
        return len(token) >= 9  # account numbers (AWS: 12 digits), not amounts
    if any(c.isalpha() for c in token):
        return len(token) >= 4
    # Digits joined by - or _ (e.g. 1234-5678) are ids; digits with . or , are numbers.
    return "-" in token or "_" in token


# -- checks -----------------------------------------------------------------------------------


def _check_text(where: str, text: str, facts: Facts) -> list[str]:
    problems: list[str] = []
    claims = extract_claims(text)
    for address in claims.emails:
        if address not in facts.emails:
            problems.append(f"{where}: address {address} is neither a configured contact nor in the evidence")
    for written, d in claims.dates:
        if d not in facts.dates:
            problems.append(f"{where}: date {written!r} is not in the evidence")
    for written, month in claims.months:
        if month not in facts.months:
            problems.append(f"{where}: period {written!r} is not in the evidence")
    for token in claims.ids:
        if token not in facts.ids:
            problems.append(f"{where}: identifier {token!r} is not in the evidence")
    for written, value, is_percent in claims.numbers:
        ok = value in facts.numbers or (is_percent and (value / 100) in facts.numbers)
        if not ok:
            problems.append(f"{where}: amount {written!r} is not in the evidence")
    return problems


def check_draft(draft: Draft, classification: Classification, facts: Facts) -> list[str]:
    """Problems of the draft: invented numbers, ids, dates, addresses; wrong recipient or kind."""
    problems = [*_check_text("subject", draft.subject, facts), *_check_text("body", draft.body, facts)]
    if draft.to not in facts.recipients:
        problems.append(f"to: {draft.to!r} is not a configured contact or role")
    for rid in draft.attachments:
        if rid not in facts.ids:
            problems.append(f"attachments: {rid!r} is not an evidence record")
    for chunk in draft.sop_steps:
        if chunk not in facts.chunk_ids:
            problems.append(f"sop_steps: {chunk!r} is not a retrieved SOP passage")
    outward = classification.escalate_to in (EscalateTo.PARTNER, EscalateTo.CUSTOMER)
    if outward and draft.kind != "email":
        problems.append(f"kind: escalation to {classification.escalate_to.value} needs an email, got {draft.kind}")
    if not outward and draft.kind == "email":
        problems.append(f"kind: escalation {classification.escalate_to.value} needs an internal resolution, got an email")
    return problems


def check_decision(classification: Classification, facts: Facts) -> list[str]:
    """Problems of the decision: an action that does not suit the category, uncited sources."""
    problems: list[str] = []
    if not is_compatible(classification.category, classification.action):
        problems.append(
            f"decision: action {classification.action.value} does not suit category {classification.category.value}"
        )
    for rid in classification.evidence_ids:
        if rid not in facts.ids:
            problems.append(f"decision: evidence id {rid!r} is not in the evidence")
    for chunk in classification.sop_chunk_ids:
        if chunk not in facts.chunk_ids:
            problems.append(f"decision: SOP passage {chunk!r} was not retrieved")
    return problems


def verify(case: CaseInput, classification: Classification, draft: Draft, settings: Settings,
           facts: Facts | None = None) -> VerifyReport:
    """Check a classification and its draft against the case; pass `facts` to reuse them."""
    facts = facts or collect_facts(case, settings)
    return VerifyReport(draft_problems=check_draft(draft, classification, facts),
                        decision_problems=check_decision(classification, facts))


def unique(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without repeats."""
    return list(dict.fromkeys(items))
