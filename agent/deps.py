"""What the graph's nodes need from outside: the database, the backend, the SOP retriever,
the tools, the settings. Built once per process (or per batch) and closed over by the nodes."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from agent.evidence import ToolRunner, tools_runner
from agent.llm.base import Backend
from agent.outcomes import ImmediateWriter, OutcomeWriter
from agent.retrieval import SopRetriever
from billing.settings import Settings


@dataclass
class TriageDeps:
    """Everything the nodes call. Tests pass fakes for the backend, retriever and tools."""

    engine: Engine
    backend: Backend
    retriever: SopRetriever
    settings: Settings
    run_tools: ToolRunner = field(default=tools_runner)
    # Where finished cases are written: at once by default; in groups during a batch.
    writer: OutcomeWriter | None = None

    def __post_init__(self) -> None:
        if self.writer is None:
            self.writer = ImmediateWriter(self.engine)

    @property
    def actor(self) -> str:
        """How the agent signs its audit entries."""
        return f"agent:{self.backend.name}"
