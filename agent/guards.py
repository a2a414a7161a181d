"""Outside text (partner and customer emails, dispute notes, CSV fields) is data, never
instructions. This guard flags text that tries to instruct the model or steer the decision;
a flagged case goes to a person whatever the model says (see `agent.routing`).

The checks run on a normalised copy of the text (Unicode NFKC, invisible characters removed,
letters separated by spaces or dots joined back) so that simple disguises do not slip through.
Hidden characters are themselves a reason to flag: honest remittance notes do not carry them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from agent.llm.base import OutsideText

# Zero-width and bidirectional control characters: invisible in a mail client, read by a model.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")
# "i g n o r e" / "i.g.n.o.r.e" -> "ignore" (runs of single letters split by one separator).
_SPACED_LETTERS = re.compile(r"\b(?:[a-z][ .\-_*]){3,}[a-z]\b")

_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"\b(ignore|disregard|forget|override|bypass|skip)\b.{0,40}\b(previous|prior|above|earlier|all|any|your|the|system|these|those)\b.{0,30}\b(instruction|instructions|prompt|prompts|rules?|polic(?:y|ies)|guidelines?|directions?|checks?|context)\b",
     "asks the reader to ignore its instructions"),
    (r"\b(system|developer|assistant)\s*(prompt|message|instruction|override|mode)\b", "talks about prompts or system messages"),
    (r"(^|\n)\s*(system|assistant|developer|user)\s*:", "contains a chat-role marker"),
    (r"<\s*/?\s*(system|assistant|instructions?|prompt|outside_text|im_start|im_end)\b", "contains markup that imitates a prompt"),
    (r"\[/?(inst|system)\]|<<\s*sys\s*>>|###\s*(instruction|system)", "contains prompt-format tokens"),
    (r"\byou are (now|no longer|an? (ai|assistant|language model|model|bot|agent))\b", "tries to reassign the model's role"),
    (r"\b(as an? (ai|language model|llm)|dear (ai|assistant|model|bot|agent))\b"
     r"|\b(note|message|instructions?|attention|attn|memo)\s*(to|for)\s*(the\s+|any\s+|your\s+)?"
     r"(ai|llm|assistant|model|bot|automated|automatic)\b|\b(ai|llm) (agent|assistant|model|bot|system)\s*[:,]"
     r"|\b(attn|attention)\s*:?\s*(the\s+)?(ai|llm|assistant|model|bot)\b",
     "addresses an AI model"),
    (r"\b(jailbreak|dan mode|developer mode|god mode)\b", "uses a known jailbreak phrase"),
    (r"\b(classify|categori[sz]e|label|tag)\s+(this|it|the case|the exception|this case|this ticket)\s+as\b", "dictates the classification"),
    (r"\b(set|make|give|report|raise)\b.{0,25}\bconfidence\b", "dictates the confidence"),
    (r"\b(route|routing|mark|flag|move|queue)\b.{0,30}\b(auto|touchless|no[ -]?review|auto[- ]?triage[d]?)\b", "asks for automatic routing"),
    (r"\b(auto[- ]?(approve|approval|resolve|close)|approve (this|it|the (refund|credit|case|request)) (immediately|now|automatically|without)|pre-?approved by)\b",
     "asks for approval without review"),
    (r"\b(do not|don't|dont|no need to|never|must not|should not)\b.{0,20}\b(escalate|be reviewed|review this|human|approver|approval|flag this|flag it)\b"
     r"|\bno (human |manual |further )?(review|approval|escalation|sign-?off|check)s? (is |are )?(needed|required|necessary)\b",
     "asks to skip review"),
    (r"\b(mark|close|resolve|set)\b.{0,25}\b(as )?(resolved|closed|approved|paid|settled|no action)\b.{0,20}\b(immediately|now|automatically|without)\b",
     "asks to close the case without review"),
    (r"\b(respond|reply|answer|output|return|print)\s+(only|exactly|with the following|in json|with json|json)\b", "dictates the output format"),
    (r"\b(call|invoke|run|execute)\s+(the\s+|a\s+)?(\w+\s+)?(tool|function)\b", "asks to run tools"),
    (r"\b(reveal|show|print|repeat|leak)\b.{0,25}\b(prompt|instructions|system message|api key|secret|password|token)\b", "asks to reveal secrets or instructions"),
    (r"\b(new|updated|revised|following) (instructions|rules|policy|system prompt)\b\s*:", "introduces new instructions"),
    (r"\b(transfer|wire|send|pay|refund)\b.{0,40}\b(to (the )?(following|this|new|our new) (account|iban|bank))\b", "asks to move money to new bank details"),
    # Payment-redirection fraud (business email compromise): a change of bank details is never
    # accepted from an email; it is made in the partner portal and confirmed out of band.
    (r"\b(update|change|confirm|verify|provide|send|new|revised|re-?enter)\b.{0,30}\b(bank(ing)? (details|information|info|account)|account (details|number)|iban|swift|routing number|remittance (details|instructions)|payment (details|instructions))\b",
     "asks to change bank or payment details"),
    # An approval that exists only in the sender's words: approvals live in our records.
    # Said out loud, in a meeting or on a call of any name, or by one of our people: the
    # claim is the sender's, the approval matrix (SOP) wants it in writing on our side.
    (r"\b(verbal(ly)?|oral(ly)?)\b.{0,30}\b(approv\w*|agree\w*|authori[sz]\w*|ok(ay)?)\b"
     r"|\b(approv\w*|agreed|authori[sz]ed|signed off|ok'?e?d|okayed|green-?lit|promised)\b.{0,40}"
     r"\b(verbally|by phone|over the phone|(on|in|during|at) (a|an|the|our|that|their|your|last|this) (\w+ ){0,2}"
     r"(call|meeting|conversation|chat|qbr|sync|zoom|teams|review|catch-?up))\b"
     r"|\b(your|ur) (\w+ ){0,2}(manager|mgr|rep|representative|executive|exec|cam|sales\w*|cfo|controller|director|vp)"
     r"\b( \w+)?,? (already )?(agreed|approved|authori[sz]ed|signed off|ok'?e?d|okayed|promised|said (it was|it's|its) (ok|okay|fine))\b",
     "claims an approval our records do not hold"),
)
_COMPILED = tuple((re.compile(p, re.IGNORECASE | re.DOTALL), why) for p, why in _PATTERNS)


@dataclass(frozen=True)
class GuardResult:
    """Whether a text tries to instruct, and why."""

    suspicious: bool
    reasons: tuple[str, ...] = ()


def normalise(text: str) -> str:
    """The text as the checks see it: NFKC, no invisible characters, spaced-out words joined."""
    folded = unicodedata.normalize("NFKC", text)
    folded = _INVISIBLE.sub("", folded).lower()
    return _SPACED_LETTERS.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)), folded)


# A batch meets the same text again: an account's messages are outside text of each of its
# cases. The check is a pure function of the text, and its result is immutable.
@lru_cache(maxsize=4096)
def inspect_text(text: str) -> GuardResult:
    """Check one piece of outside text; every reason names what the text tried to do."""
    reasons: list[str] = []
    if _INVISIBLE.search(text):
        reasons.append("contains invisible or direction-control characters")
    seen = normalise(text)
    for pattern, why in _COMPILED:
        if pattern.search(seen) and why not in reasons:
            reasons.append(why)
    return GuardResult(suspicious=bool(reasons), reasons=tuple(reasons))


def guard_outside_text(items: list[OutsideText]) -> list[OutsideText]:
    """Each item with `suspicious` and `reasons` set from its subject and body."""
    checked: list[OutsideText] = []
    for item in items:
        result = inspect_text(f"{item.subject}\n{item.body}")
        reasons = list(dict.fromkeys([*item.reasons, *result.reasons]))
        checked.append(item.model_copy(update={"suspicious": item.suspicious or result.suspicious, "reasons": reasons}))
    return checked


#: The tool whose payment records carry the payer's remittance note.
PAYMENTS_TOOL = "get_payments_and_disbursements"


def flagged_remittance_notes(evidence: dict[str, Any]) -> list[OutsideText]:
    """The remittance notes of the case's payments that try to instruct, as flagged outside text.

    A payer writes the note on its transfer: it is outside text like an email, data and never
    instructions. A note that reads as a reference ("INV-2026-0917 Y 0918") stays what it is, a
    field of its payment record; one the guard flags also joins the case's outside text, so the
    route sees it and a model is shown it fenced as untrusted."""
    result = evidence.get(PAYMENTS_TOOL)
    payments = result.get("payments") if isinstance(result, dict) else None
    flagged: list[OutsideText] = []
    for payment in payments if isinstance(payments, list) else []:
        note = payment.get("remittance_note") if isinstance(payment, dict) else None
        if not note:
            continue
        found = inspect_text(str(note))
        if found.suspicious:
            flagged.append(OutsideText(message_id=f"remittance note of payment {payment.get('payment_id')}",
                                       sender_role="payer", body=str(note), suspicious=True, reasons=list(found.reasons)))
    return flagged


def suspicious_reasons(items: list[OutsideText]) -> list[str]:
    """One line per flagged item, naming the message and what it tried."""
    return [f"outside text {t.message_id} from {t.sender_role} {'; '.join(t.reasons)}" for t in items if t.suspicious]
