"""What one case was given, recorded on its way into the graph: the tool results and the SOP passages.

The graph drops both from its state when it finalizes a case (they are in the audit trail by
then, and the final checkpoint stays small), so the eval records them as they pass: it hands
the graph a tools runner and a retriever that call the real ones and keep what they returned.
The draft check then searches exactly the evidence the agent's verify step searched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from agent.evidence import GatheredCase, ToolRunner, evidence_text, split_messages, tools_runner
from agent.llm.base import CaseInput, OutsideText, SopPassage
from agent.retrieval import SopRetriever


class CaseCapture:
    """A tools runner and a retriever for one case, keeping the last results they gave."""

    def __init__(self, retriever: SopRetriever, run_tools: ToolRunner = tools_runner) -> None:
        self._retriever = retriever
        self._run_tools = run_tools
        self.tool_results: dict[str, Any] = {}
        self.passages: list[SopPassage] = []

    def tools(self, engine: Engine, exception_id: int) -> dict[str, Any]:
        """The real tools; their results kept."""
        self.tool_results = self._run_tools(engine, exception_id)
        return self.tool_results

    def retrieve(self, categories: Sequence[str], channel: str | None) -> list[SopPassage]:
        """The real retriever; its passages kept."""
        self.passages = self._retriever(categories, channel)
        return self.passages

    def case_input(self, values: dict[str, Any]) -> CaseInput:
        """The case as the backend saw it: the exception from the final state, the evidence and
        passages as recorded (message texts moved to outside text, as `gather` does)."""
        evidence, _ = split_messages(self.tool_results)
        return CaseInput(case_id=str(values.get("exception_id", "")), exception=values.get("exception") or {},
                         evidence=evidence, sop_passages=self.passages,
                         outside_text=[OutsideText.model_validate(t) for t in values.get("outside_text") or []],
                         stake_usd=(values.get("stake") or {}).get("usd"))

    def evidence_text(self, case: CaseInput) -> str:
        """The exception and tool results as the one JSON text verify searches (`agent.evidence`)."""
        return evidence_text(GatheredCase.model_construct(exception=case.exception, evidence=case.evidence,
                                                          outside_text=case.outside_text))
