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
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from agent.llm.base import CaseInput
from agent.schemas import Category, Classification, Draft, EscalateTo
from agent.taxonomy import is_compatible
from billing import json_text
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
# Tokens are ASCII (TOKEN_RE), so these are str.isdigit / str.isalpha over a token, at C speed.
_HAS_DIGIT = re.compile(r"[0-9]").search
_HAS_ALPHA = re.compile(r"[A-Za-z]").search
# The tokens of TOKEN_RE that hold a digit, the only ones that can be ids. A token is the run of
# token characters from its start to the run's last letter or digit, so the lookahead sees a digit
# exactly when the token has one; and a start inside a digit-free token finds no digit either.
_DIGIT_TOKEN_RE = re.compile(r"(?=[A-Za-z0-9_\-./:]*[0-9])" + TOKEN_RE.pattern)


def _is_id_char(c: str) -> bool:
    return c.isalnum() or c in "_-"


class Facts:
    """What the case was given — the exception, the tool results and the SOP passages, as one
    JSON text — searched for each thing a draft claims (a few regex scans at C speed, instead
    of parsing every record of the evidence in Python)."""

    def __init__(self, text: str, *, extra_numbers: frozenset[Decimal], emails: frozenset[str],
                 chunk_ids: frozenset[str], recipients: frozenset[str]) -> None:
        self.text = text
        self.extra_numbers = extra_numbers
        self.emails = emails
        self.chunk_ids = chunk_ids
        self.recipients = recipients
        # A draft states the same amount in its subject and body, and again after a repair.
        self._numbers: dict[Decimal, bool] = {}

    @cached_property
    def _lower(self) -> str:
        # Lowered only when an address is not a configured contact (most drafts never need it).
        return self.text.lower()

    def _occurrences(self, needle: str) -> Iterator[int]:
        start = self.text.find(needle)
        while start >= 0:
            yield start
            start = self.text.find(needle, start + 1)

    def has_id(self, token: str) -> bool:
        """The identifier appears whole (not as part of a longer id)."""
        text, end = self.text, len(token)
        for i in self._occurrences(token):
            before = text[i - 1] if i else " "
            after = text[i + end] if i + end < len(text) else " "
            if not _is_id_char(before) and not _is_id_char(after):
                return True
        return False

    def has_number(self, value: Decimal) -> bool:
        """A number in the evidence equals `value` exactly, or rounds to it half-up (cents, units)."""
        value = abs(value)
        known = self._numbers.get(value)
        if known is None:
            known = self._numbers[value] = value in self.extra_numbers or self._find_number(value)
        return known

    def _find_number(self, value: Decimal) -> bool:
        whole = int(value)
        # The integer part written plainly or with thousands separators; one less for round-ups,
        # which only make a whole value (rounding n.995 to cents or n.5 to units gives n+1.00).
        wholes = (whole, whole - 1) if value == whole else (whole,)
        parts = {str(i) for i in wholes if i >= 0} | {f"{i:,}" for i in wholes if i >= 1000}
        for part in parts:
            for i in self._occurrences(part):
                found = self._number_at(i, len(part))
                if found is not None and value in set(_number_forms(found)):
                    return True
        return False

    def _number_at(self, i: int, length: int) -> Decimal | None:
        """The whole number whose integer part is text[i:i+length], or None if it is part of another."""
        text = self.text
        if i and (text[i - 1].isdigit() or text[i - 1] in ".,"):
            return None
        end = i + length
        if end < len(text) and text[end] == "." and end + 1 < len(text) and text[end + 1].isdigit():
            end += 1
            while end < len(text) and text[end].isdigit():
                end += 1
        if end < len(text) and (text[end].isdigit() or (text[end] == "," and end + 1 < len(text) and text[end + 1].isdigit())):
            return None
        return _to_decimal(text[i:end])

    def has_month(self, month: str) -> bool:
        """A ``YYYY-MM`` period (or a date in it) appears."""
        text = self.text
        for i in self._occurrences(month):
            if (not i or not text[i - 1].isdigit()) and (i + 7 >= len(text) or not text[i + 7].isdigit()):
                return True
        return False

    def has_date(self, day: date) -> bool:
        """The date appears, or it is the first or last day of a month that appears."""
        if day.isoformat() in self.text:
            return True
        first, last = _month_bounds(f"{day:%Y-%m}")
        return day in (first, last) and self.has_month(f"{day:%Y-%m}")

    def has_email(self, address: str) -> bool:
        """A configured contact, or an address found in the evidence."""
        return address in self.emails or address in self._lower


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


def _to_decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _number_forms(value: Decimal) -> Iterator[Decimal]:
    # The value as stored, and as a draft may print it: without sign, rounded to cents or units.
    # (Decimals compare by value: 1000.000000 is 1000 in a set, so only real fractions need rounding.)
    magnitude = abs(value)
    yield magnitude
    if magnitude == magnitude.to_integral_value():
        return
    try:
        yield magnitude.quantize(_CENT, rounding=ROUND_HALF_UP)
        yield magnitude.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    except InvalidOperation:  # too many digits to round; the value itself still counts
        return


def _month_bounds(month: str) -> tuple[date, date]:
    year, mon = int(month[:4]), int(month[5:7])
    return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])


def collect_facts(case: CaseInput, settings: Settings, evidence_text: str | None = None) -> Facts:
    """Everything a draft may cite for this case (pass `evidence_text` if it was made already:
    the JSON of the exception and the tool results, see `agent.evidence.evidence_text`)."""
    if evidence_text is None:
        evidence_text = json_text.dumps({"exception": case.exception, "evidence": case.evidence})
    sop = json.dumps({"sop": [p.model_dump() for p in case.sop_passages],
                      "versions": [f"v{p.version}" for p in case.sop_passages]}, ensure_ascii=False)
    contacts = settings.email
    recipients = {*contacts.partner_contacts.values(), contacts.customer_contact_role, contacts.internal_owner}
    emails = {e.lower() for r in [*recipients, contacts.sender] for e in EMAIL_RE.findall(r)}
    return Facts(
        evidence_text + "\n" + sop,
        # Policy figures a draft may quote (the approval threshold).
        extra_numbers=frozenset(_number_forms(settings.routing.materiality_usd)),
        emails=frozenset(emails), chunk_ids=frozenset(p.chunk_id for p in case.sop_passages),
        recipients=frozenset(recipients),
    )


# -- claims -----------------------------------------------------------------------------------


def _blank(m: re.Match[str]) -> str:
    return " " * (m.end() - m.start())


def _safe_date(year: str, month: int, day: str) -> date | None:
    try:
        return date(int(year), month, int(day))
    except ValueError:
        return None


def extract_claims(text: str) -> Claims:
    """Find the addresses, dates, months, ids and numbers of a text, in that order (each found
    piece is blanked out so that, e.g., the digits of a date are not read again as an amount)."""
    claims = Claims()
    # Each reader below is an re.sub replacement: what it records is blanked, the rest stays.

    def email(m: re.Match[str]) -> str:
        claims.emails.append(m.group(0).lower())
        return _blank(m)

    def dated_id(m: re.Match[str]) -> str:
        token = m.group(0)
        if (ISO_MONTH_RE.search(token) and _HAS_ALPHA(token) and not ISO_DATE_RE.fullmatch(token)
                and _looks_like_id(token)):
            claims.ids.append(token)
            return _blank(m)
        return token

    def dated(year: int, month: int, day: int) -> Callable[[re.Match[str]], str]:
        def read(m: re.Match[str]) -> str:
            mon = m.group(month)
            d = _safe_date(m.group(year), int(mon) if mon.isdigit() else _MONTHS[mon.lower().rstrip(".")], m.group(day))
            if d is None:
                return m.group(0)
            claims.dates.append((m.group(0), d))
            return _blank(m)
        return read

    def month_word(m: re.Match[str]) -> str:
        claims.months.append((m.group(0), f"{m.group(2)}-{_MONTHS[m.group(1).lower().rstrip('.')]:02d}"))
        return _blank(m)

    def iso_month(m: re.Match[str]) -> str:
        claims.months.append((m.group(0), f"{m.group(1)}-{m.group(2)}"))
        return _blank(m)

    def plain_id(m: re.Match[str]) -> str:
        token = m.group(0)
        if _looks_like_id(token):
            claims.ids.append(token)
            return _blank(m)
        return token

    if "@" in text:  # most texts hold no address: skip the scan
        text = EMAIL_RE.sub(email, text)
    # Ids that embed a date or month (INV-2026-09-0109) are ids: read them before the dates,
    # or the date inside would be taken out and the rest read as an amount.
    text = _DIGIT_TOKEN_RE.sub(dated_id, text)
    text = ISO_DATE_RE.sub(dated(1, 2, 3), text)
    text = DAY_MONTH_YEAR_RE.sub(dated(3, 2, 1), text)
    text = MONTH_DAY_YEAR_RE.sub(dated(3, 1, 2), text)
    text = MONTH_YEAR_RE.sub(month_word, text)
    text = ISO_MONTH_RE.sub(iso_month, text)
    text = _DIGIT_TOKEN_RE.sub(plain_id, text)
    for m in NUMBER_RE.finditer(text):
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
    if not _HAS_DIGIT(token) or _NUMBER_WITH_UNIT.match(token):
        return False
    if token.isdigit():
        return len(token) >= 9  # account numbers (AWS: 12 digits), not amounts
    if _HAS_ALPHA(token):
        return len(token) >= 4
    # Digits joined by - or _ (e.g. 1234-5678) are ids; digits with . or , are numbers.
    return "-" in token or "_" in token


# -- checks -----------------------------------------------------------------------------------


def _check_text(where: str, text: str, facts: Facts) -> list[str]:
    problems: list[str] = []
    claims = extract_claims(text)
    for address in claims.emails:
        if not facts.has_email(address):
            problems.append(f"{where}: address {address} is neither a configured contact nor in the evidence")
    for written, d in claims.dates:
        if not facts.has_date(d):
            problems.append(f"{where}: date {written!r} is not in the evidence")
    for written, month in claims.months:
        if not facts.has_month(month):
            problems.append(f"{where}: period {written!r} is not in the evidence")
    for token in claims.ids:
        if not facts.has_id(token):
            problems.append(f"{where}: identifier {token!r} is not in the evidence")
    for written, value, is_percent in claims.numbers:
        ok = facts.has_number(value) or (is_percent and facts.has_number(value / 100))
        if not ok:
            problems.append(f"{where}: amount {written!r} is not in the evidence")
    return problems


def check_draft(draft: Draft, classification: Classification, facts: Facts) -> list[str]:
    """Problems of the draft: invented numbers, ids, dates, addresses; wrong recipient or kind."""
    problems = [*_check_text("subject", draft.subject, facts), *_check_text("body", draft.body, facts)]
    if draft.to not in facts.recipients:
        problems.append(f"to: {draft.to!r} is not a configured contact or role")
    for rid in draft.attachments:
        if not facts.has_id(rid):
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
        if not facts.has_id(rid):
            problems.append(f"decision: evidence id {rid!r} is not in the evidence")
    for chunk in classification.sop_chunk_ids:
        if chunk not in facts.chunk_ids:
            problems.append(f"decision: SOP passage {chunk!r} was not retrieved")
    return problems


def verify(case: CaseInput, classification: Classification, draft: Draft, settings: Settings,
           facts: Facts | None = None) -> VerifyReport:
    """Check a classification and its draft against the case; pass `facts` to reuse them."""
    facts = facts or collect_facts(case, settings)
    # A figure a draft states twice (subject and body, or twice in the body) is one problem.
    return VerifyReport(draft_problems=unique(check_draft(draft, classification, facts)),
                        decision_problems=unique(check_decision(classification, facts)))


def check_edit(case: CaseInput, classification: Classification | None, draft: Draft | None,
               category: Category | None, settings: Settings, evidence_text: str | None = None) -> list[str]:
    """Problems of a reviewer's edit, found as the agent's own draft's are: every amount, id,
    date and address of the draft in the evidence, a configured recipient, an email for an
    outward escalation; and the agent's action suiting the category the person chose (an edit
    keeps the action: another category that needs another action is a reclassification)."""
    facts = collect_facts(case, settings, evidence_text)
    problems: list[str] = []
    if classification is None:  # the backend failed: the person's draft is all there is to check
        if draft is not None:
            problems = [*_check_text("subject", draft.subject, facts), *_check_text("body", draft.body, facts)]
            if draft.to not in facts.recipients:
                problems.append(f"to: {draft.to!r} is not a configured contact or role")
        return unique(problems)
    if category is not None and category is not classification.category:
        classification = classification.model_copy(update={"category": category})
        if not is_compatible(classification.category, classification.action):
            problems.append(f"decision: action {classification.action.value} does not suit category "
                            f"{category.value}; reclassify instead (the agent redrafts for it)")
    if draft is not None:
        problems += check_draft(draft, classification, facts)
    return unique(problems)  # a figure the person wrote twice is one problem


def unique(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without repeats."""
    return list(dict.fromkeys(items))
