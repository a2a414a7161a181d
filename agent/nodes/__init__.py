"""The graph's nodes, one module each: gather → retrieve → classify → draft → verify → route →
(review) → finalize. Each `make_<node>(deps)` returns the node function bound to its deps."""

from agent.nodes.classify import make_classify
from agent.nodes.draft import make_draft
from agent.nodes.finalize import make_finalize
from agent.nodes.gather import make_gather
from agent.nodes.retrieve import make_retrieve
from agent.nodes.review import make_review
from agent.nodes.route import make_route
from agent.nodes.verify import make_verify

__all__ = [
    "make_classify", "make_draft", "make_finalize", "make_gather", "make_retrieve", "make_review",
    "make_route", "make_verify",
]
