"""Section roles: what kind of answer a section gives, and what kind of answer a query asks for.

Every runbook is built on the same skeleton (Symptoms, Evidence to pull, Decision steps,
Resolution, Escalation, Email outline, SLAs), so a section's heading says what *kind* of
answer it holds whatever the runbook. A question usually says which kind it wants in a few
words that carry no topic at all: "... who do we chase", "... what do we tell them", "...
how fast", "... where do I see it". Sentence vectors and BM25 both match the *situation* a
question describes, so Symptoms and "How it is reported", which describe situations, used to
beat the section that answers the ask (the commonest miss of the blind query sets). Here the
ask is read from the query with a small table of question forms, and the fusion gives a
bonus to the sections of the asked-for kind (``fusion.fuse``), inside the runbook the topic
signals chose.

Both tables are general English question forms and generic heading words, not per-query
rules: no topic word, SOP id or eval phrase is in them. A company's own runbooks get the
same treatment as long as their headings use these words; a heading none of them match has
no role and never gets the bonus.
"""

from __future__ import annotations

import re
from typing import Literal

Role = Literal["evidence", "decision", "resolution", "escalation", "approval", "email", "sla",
               "outside"]
ROLES: tuple[Role, ...] = (
    "evidence", "decision", "resolution", "escalation", "approval", "email", "sla", "outside",
)

#: A heading (any level of its path) -> the roles of the section. Symptoms and overviews have
#: no role: they describe situations, which the topic signals already match.
_HEADING_ROLES: tuple[tuple[Role, re.Pattern[str]], ...] = tuple(
    (role, re.compile(pattern, re.IGNORECASE)) for role, pattern in (
        ("evidence", r"\bevidence\b"),
        ("decision", r"\bdecision\b"),
        ("resolution", r"\bresolution\b"),
        ("escalation", r"\bescalat"),
        # A materiality threshold is the amount from which a person must approve.
        ("approval", r"\bapprov|\bauthori[sz]|\bmateriality\b"),
        ("email", r"\be-?mail\b|\bquoting\b"),
        ("sla", r"\bslas?\b|\bturnaround\b"),
        # How to treat a message from outside: the red flags of a suspicious one, what to do
        # with a flagged one, how to quote one.
        ("outside", r"\bred flags?\b|\bflagged\b|\boutside text\b|\bsuspicious\b|\bphishing\b"
                    r"|\bfraud\b"),
    )
)

# What a query asks for: question forms, each with the section roles that answer it ("who"
# is answered by Escalation, by an approval table, or by a Resolution's "Owner:"). Written
# from how analysts phrase asks in chat (short, often at the end of a description), kept to
# wording that names no topic. "email" needs a verb of writing or sending, or "email to
# <someone>": a query that merely mentions an email ("vendor asks us by email to ...")
# describes a situation; likewise "due" only in "when is ... due" / "due by" ("the
# instalment was due yesterday" is a description).
_ASKS: tuple[tuple[tuple[Role, ...], re.Pattern[str]], ...] = tuple(
    (roles, re.compile(pattern, re.IGNORECASE)) for roles, pattern in (
        (("email",),
         r"\b(?:what (?:do|should|can|would) (?:we|i) (?:write|say|tell|send)"
         r"|write (?:to|them|back)|(?:say|reply|respond) to|tell (?:them|the (?:cust\w*|client|buyer))"
         r"|draft (?:a |an |the )?(?:reply|email|note|message|response)|template|wording"
         r"|subject line|what goes (?:in|into) the (?:e-?mail|msg|message|note|letter|ticket|case)"
         r"|(?<!by )(?<!an )(?:e-?mail|msg|message|note|letter) to)\b"),
        (("escalation", "approval", "resolution"),
         r"\b(?:who|whom|loop in|escalat\w*|involve|sign[- ]?off|signs|approv\w*"
         r"|authori[sz]\w*|need to know|raise it with"
         # Asking whether to go to the partner is asking for the escalation rules.
         r"|(?:open|raise) (?:a |an )?(?:case|ticket)|reach out"
         r"|contact(?:ing)? (?:the )?(?:partner|marketplace|aws|amazon|reseller|microsoft|google"
         r"|them|seller op\w*))\b"),
        (("sla",),
         r"\b(?:how (?:fast|quick|quickly|soon|long)|by when|deadline|slas?|turnaround"
         r"|how many days|when (?:is|are) (?:\w+ ){0,3}due|due (?:by|date))\b"),
        (("evidence",),
         r"\b(?:where (?:do|can|would|should) (?:we|i) (?:see|find|look|check)"
         r"|which (?:tool|report|records|rows|feed)|what do (?:we|i) (?:check|pull|look at))\b"),
        # A message from outside reported as telling, asking or claiming something ("the
        # customer note says: approve this credit", "an email claims to be from our CEO",
        # "someone phoned claiming to be their finance team"): whatever the topic, the
        # question is how to treat such a message. The speaker is a message or an unknown
        # person, not "the customer says" (a customer describing a billing problem).
        (("outside",),
         r"\b(?:e-?mails?|notes?|messages?|msgs?|letters?|repl(?:y|ies)|texts?|voicemails?|callers?"
         r"|someone|somebody)\b[^.?!;]{0,40}?\b(?:says?|saying|said|claims?|claiming|claimed"
         r"|asks?|asking|demands?|demanding|tells?|telling|wants?|instructs?|insists?)\b"),
        # "Can the bot auto-close it", "book it without review": whether a person must
        # approve, which the approval rules answer.
        (("approval",),
         r"\bauto[- ]?(?:clos|resolv|clear|approv|book)\w*|\bautomatic(?:ally)?\b"
         r"|\bwithout (?:a person|a human|anyone|review|approval|sign[- ]?off)\b"
         r"|\bstraight[- ]through\b"),
        # A question ending on alternatives ("claw it back or eat it?", "timing or dropped
        # metering?") asks which way to decide.
        (("decision", "resolution"), r"\bor\b[^?.!]*\?\s*$"),
        (("decision", "resolution"),
         r"\b(?:what now|next step|what (?:do|should) (?:we|i) do"
         r"|how (?:do|can|should) (?:we|i) (?:fix|get|correct|undo|stop|move|handle|recover)"
         r"|how to fix|should (?:we|i)|do (?:we|i) (?:bother|need|bill|book|write|just)"
         r"|worth|bother|anything to do)\b"),
    )
)


def section_roles(heading: str) -> frozenset[Role]:
    """The roles of a section from its heading path (``Escalation and email outline`` ->
    escalation and email; ``Symptoms > How it is reported`` -> none)."""
    return frozenset(role for role, pattern in _HEADING_ROLES if pattern.search(heading))


#: A quoted span: 'single', "double" or curly quotes, opening after a non-letter and closing
#: before one (so the apostrophes of "we're" and "customer's" open nothing).
_QUOTED_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:'[^'\n]{2,}?'|\"[^\"\n]{2,}?\"|\u2018[^\u2019\n]{2,}?\u2019"
    r"|\u201c[^\u201d\n]{2,}?\u201d)(?![A-Za-z0-9])"
)


def unquoted(query: str) -> str:
    """The query without its quoted spans: what the asker says, not what they quote."""
    return _QUOTED_RE.sub(" ", query)


def asked_roles(query: str) -> frozenset[Role]:
    """The section roles a query asks for (empty when it only describes a situation).

    Quoted text is left out: in "partner email says 'mark as approved, no need to escalate'
    - do I just do it?" the quote is what someone else wrote (outside text is data, never
    instructions), and its "approved" and "escalate" are not the asker's question.
    """
    query = unquoted(query)
    return frozenset(role for roles, pattern in _ASKS if pattern.search(query) for role in roles)
