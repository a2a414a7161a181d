"""The routing policy: which cases a person must see, and why.

A case goes to a person when any of these hold (`RoutingSettings` sets the figures): the
backend failed after its retries; a check failed after the one repair; outside text tried to
instruct; the confidence is below the threshold; the category always needs approval; the
amount at stake is at or above materiality in USD, or its USD value is unknown; the case is
part of a compound one (`agent.compound`). Otherwise it
is auto-triaged: a *proposed* resolution. Every route carries its reasons, auto ones too.

Nothing reaches a partner or customer without a person's approval unless the policy lists
the category in `auto_send_categories` and the amount is below `auto_send_below_usd`.
The inputs that decide the route come from the database (amounts) and from the checks, never
from outside text: suspicious text can only add a reason to see a person, never remove one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from agent.schemas import Classification, EscalateTo
from agent.state import Route, StakeInfo
from agent.verify import unique
from billing.money import fmt
from billing.settings import RoutingSettings


@dataclass(frozen=True)
class RouteDecision:
    """Where the case goes, every reason for it, and whether its email may go out unreviewed."""

    route: Route
    reasons: list[str] = field(default_factory=list)
    send_allowed: bool = False


def _usd(value: Decimal) -> str:
    return fmt(value, "USD")


def decide_route(
    *,
    policy: RoutingSettings,
    classification: Classification | None,
    stake: StakeInfo,
    problems: list[str],
    suspicious: list[str],
    backend_errors: list[str],
    reclassified_by: str | None = None,
    compound: list[str] | None = None,
    problem: tuple[Decimal, int] | None = None,
) -> RouteDecision:
    """Apply the policy. `problems` are the checks still failing after the repair attempt."""
    human: list[str] = []
    human.extend(f"backend failed after retries: {e}" for e in backend_errors)
    if classification is None and not backend_errors:
        human.append("no classification was produced")
    human.extend(f"suspicious outside text: {s}" for s in suspicious)
    human.extend(f"check failed: {p}" for p in unique(problems))  # a figure stated twice: one reason
    if policy.review_compound_cases:
        human.extend(compound or [])
    if reclassified_by:
        human.append(f"reclassified by {reclassified_by}: the redrafted resolution needs approval")
    usd = Decimal(stake["usd"]) if stake.get("usd") is not None else None
    if usd is None:
        human.append(f"materiality unknown: {stake.get('problem') or 'no USD amount'}")
    elif usd >= policy.materiality_usd:
        human.append(f"amount at stake {_usd(usd)} is at or above materiality {_usd(policy.materiality_usd)}")
    elif problem is not None and problem[1] > 1 and stake.get("amount") not in (None, "") \
            and Decimal(str(stake["amount"])) > 0:
        # The same difference on several dimensions is one problem: scale by this slice's USD rate.
        problem_usd = problem[0] * usd / Decimal(str(stake["amount"]))
        if problem_usd >= policy.materiality_usd:
            human.append(f"the same difference on {problem[1]} dimensions adds up to {_usd(problem_usd)}, "
                         f"at or above materiality {_usd(policy.materiality_usd)}")
    if classification is not None:
        if classification.confidence < policy.confidence_threshold:
            human.append(
                f"confidence {classification.confidence:.2f} is below the threshold {policy.confidence_threshold:.2f}"
            )
        if classification.category.value in policy.always_review_categories:
            human.append(f"category {classification.category.value} always needs approval")
    if human:
        return RouteDecision(route="human", reasons=human, send_allowed=False)

    assert classification is not None and usd is not None  # every other case was routed above
    reasons = [
        f"confidence {classification.confidence:.2f} is at or above the threshold {policy.confidence_threshold:.2f}",
        f"amount at stake {_usd(usd)} is below materiality {_usd(policy.materiality_usd)}",
        f"category {classification.category.value} needs no approval",
        "every amount, id and date of the draft was found in the evidence",
        "no suspicious outside text",
    ]
    outward = classification.escalate_to in (EscalateTo.PARTNER, EscalateTo.CUSTOMER)
    send_allowed = (
        outward
        and classification.category.value in policy.auto_send_categories
        and usd < policy.auto_send_below_usd
    )
    if outward and send_allowed:
        reasons.append(
            f"policy allows sending {classification.category.value} emails below {_usd(policy.auto_send_below_usd)}"
        )
    elif outward:
        reasons.append("proposed only: the email is not sent until a person approves it")
    return RouteDecision(route="auto", reasons=reasons, send_allowed=send_allowed)
