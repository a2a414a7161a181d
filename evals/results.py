"""What one eval case produced, as stored in a run's `cases.jsonl` (one `CaseResult` a line)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from billing.bundles import ExpectedLabels


class Predicted(BaseModel):
    """How the graph ended on the case (`agent.runner.CaseOutcome`, the parts that are scored)."""

    model_config = ConfigDict(extra="forbid")

    status: str  # triaged | waiting_review | failed | ...
    route: str | None = None
    category: str | None = None
    action: str | None = None
    escalate_to: str | None = None
    confidence: float | None = None
    route_reasons: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)  # verify problems left after the repair
    error: str | None = None
    rationale: str = ""
    evidence_ids: list[str] = Field(default_factory=list)
    sop_chunk_ids: list[str] = Field(default_factory=list)


class DraftCheck(BaseModel):
    """The final draft and what in it is not backed by the case's evidence (`evals.drafts`)."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    to: str
    subject: str
    body: str
    sop_steps: list[str] = Field(default_factory=list)
    invented_amounts: list[str] = Field(default_factory=list)
    invented_ids: list[str] = Field(default_factory=list)
    other_unsupported: list[str] = Field(default_factory=list)  # dates, periods, addresses
    sop_cited: bool = False

    @property
    def invented_number(self) -> bool:
        """An amount or an identifier that the evidence does not hold."""
        return bool(self.invented_amounts or self.invented_ids)

    @property
    def faithful(self) -> bool:
        """Nothing in the draft is unsupported."""
        return not (self.invented_amounts or self.invented_ids or self.other_unsupported)


class CaseResult(BaseModel):
    """One case of a run: the labels, what the agent decided, its draft, cost and time."""

    model_config = ConfigDict(extra="forbid")

    case_id: str  # the exception's natural key
    source: str  # file (and line) the bundle came from
    expected: ExpectedLabels
    predicted: Predicted
    draft: DraftCheck | None = None
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    model: str = ""
    wall_ms: float = 0.0  # the graph, gather to route
    load_ms: float = 0.0  # loading the bundle into its fresh database (not the agent's time)
    evidence: dict[str, Any] = Field(default_factory=dict)  # a summary to show in reports

    @property
    def category_correct(self) -> bool:
        return self.predicted.category == self.expected.category

    @property
    def must_see(self) -> bool:
        return self.expected.route == "human"

    @property
    def missed_must_see(self) -> bool:
        """A case that had to reach a person and did not (the costly error)."""
        return self.must_see and self.predicted.route != "human"
