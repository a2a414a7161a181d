"""The triage graph: gather → retrieve → classify → draft → verify → route → (review) → finalize.

`route` sends a case to `review` (a person, through an interrupt) or straight to `finalize`.
After a review, a reclassification goes back to `retrieve` with the person's category (the
case is redrafted and reviewed again); any other decision goes to `finalize`.

`build_empty_graph` has the same nodes and edges with nodes that do nothing: the benchmark
measures it in the same run, as the floor LangGraph itself sets.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent.deps import TriageDeps
from agent.nodes import (
    make_classify,
    make_draft,
    make_finalize,
    make_gather,
    make_retrieve,
    make_review,
    make_route,
    make_verify,
)
from agent.state import TriageState

LINE = ("gather", "retrieve", "classify", "draft", "verify", "route")
NODES = (*LINE, "review", "finalize")

Node = Callable[[TriageState], dict[str, Any]]
TriageGraph = CompiledStateGraph[TriageState, None, TriageState, TriageState]


def after_route(state: TriageState) -> str:
    """A person reviews every case the policy routed to them; the rest are finalized."""
    return "review" if state.get("route") == "human" else "finalize"


def after_review(state: TriageState) -> str:
    """A reclassified case is redrafted for the person's category; other decisions end it."""
    decision = state.get("decision") or {}
    return "retrieve" if decision.get("decision") == "reclassify" else "finalize"


def assemble(nodes: dict[str, Node], checkpointer: BaseCheckpointSaver[Any] | None) -> TriageGraph:
    """Wire the named node functions into the triage topology and compile it."""
    builder: StateGraph[TriageState, None, TriageState, TriageState] = StateGraph(TriageState)
    for name in NODES:
        builder.add_node(name, nodes[name])  # type: ignore[call-overload]
    builder.add_edge(START, LINE[0])
    for a, b in itertools.pairwise(LINE):
        builder.add_edge(a, b)
    builder.add_conditional_edges("route", after_route, ["review", "finalize"])
    builder.add_conditional_edges("review", after_review, ["retrieve", "finalize"])
    builder.add_edge("finalize", END)
    return builder.compile(checkpointer=checkpointer)


def node_functions(deps: TriageDeps) -> dict[str, Node]:
    """The node functions bound to `deps`, by node name."""
    return {
        "gather": make_gather(deps), "retrieve": make_retrieve(deps), "classify": make_classify(deps),
        "draft": make_draft(deps), "verify": make_verify(deps), "route": make_route(deps),
        "review": make_review(deps), "finalize": make_finalize(deps),
    }


def build_graph(deps: TriageDeps, checkpointer: BaseCheckpointSaver[Any] | None) -> TriageGraph:
    """The triage graph bound to `deps`; a checkpointer is needed for the review interrupt."""
    return assemble(node_functions(deps), checkpointer)


def _nothing(_state: TriageState) -> dict[str, Any]:
    return {}


def build_empty_graph(checkpointer: BaseCheckpointSaver[Any] | None) -> TriageGraph:
    """The same graph with nodes that do nothing (the benchmark's framework floor)."""
    return assemble({name: _nothing for name in NODES}, checkpointer)
