"""Expected labels a bundle may carry (eval cases, generator ground truth).

The vocabulary is `billing.taxonomy`, the one agreed between the agent, the generator and the
evals (a test checks that it agrees with `agent.schemas`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from billing.taxonomy import Action, Category, EscalateTo, Route

# The names bundles, tools and evals know these labels by.
CategoryLabel = Category
ActionLabel = Action
EscalateLabel = EscalateTo
RouteLabel = Route


class ExpectedLabels(BaseModel):
    """What a correct triage of this case decides. Never shown to a triage backend."""

    model_config = ConfigDict(extra="forbid")

    category: CategoryLabel
    route: RouteLabel | None = None
    action: ActionLabel | None = None
    escalate_to: EscalateLabel | None = None
    why: str | None = Field(default=None, description="Why this is the right answer, in a sentence or two.")
    second_category: CategoryLabel | None = Field(
        default=None, description="A second cause present in the same case, if any.")
    fault_id: str | None = Field(default=None, description="The generator's fault id, when labels came from it.")
