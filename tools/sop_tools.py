"""The SOP search tool: passages of the runbooks, filtered to the case's channel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Field

from billing.bundles.labels import CategoryLabel
from tools.context import SopHit, ToolContext, ToolError
from tools.registry import tool
from tools.results import SopPassageView, SopSearchResult

_CHANNELS = ("aws_marketplace", "azure_marketplace", "gcp_marketplace", "reseller", "direct")


def knowledge_search(query: str, categories: Sequence[str] | None, channels: Sequence[str] | None,
                     k: int) -> Sequence[SopHit]:
    """Search the configured SOP index (`knowledge.search` with the settings' Chroma location)."""
    try:
        import knowledge
        from billing.settings import get_settings
    except ImportError as exc:  # pragma: no cover - the knowledge room ships with the product
        raise ToolError(f"the SOP knowledge base is not available: {exc}") from None
    settings = get_settings().knowledge
    config = knowledge.KBConfig(chroma_path=settings.chroma_path, chroma_url=settings.chroma_url,
                                collection=settings.collection)
    # `other` has no runbook of its own: searching "other" means searching everything.
    cats = [c for c in categories or [] if c in knowledge.CATEGORIES] or None
    chans = [c for c in channels or [] if c in knowledge.CHANNELS] or None
    try:
        return knowledge.search(query, cats, chans, k, config=config)
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - an index that is missing or unreachable, in words a person can act on
        raise ToolError(f"the SOP index could not be searched ({exc}); build it with `triage kb index`") from None


@tool
def search_sops(
    ctx: ToolContext,
    query: Annotated[str, Field(min_length=3, max_length=500, description="What to look for, in plain words.")],
    categories: Annotated[list[CategoryLabel] | None, Field(
        description="Only runbooks of these discrepancy categories.")] = None,
    k: Annotated[int, Field(ge=1, le=10, description="How many passages.")] = 5,
) -> SopSearchResult:
    """Search the standard operating procedures (runbooks) for the steps that apply; passages of
    the case's channel only, each citable as `sop_id vVERSION § heading` by its chunk_id."""
    channel = ctx.channel if ctx.channel in _CHANNELS else None
    search = ctx.sop_search or knowledge_search
    hits = search(query, list(categories) if categories else None, [channel] if channel else None, k)
    return SopSearchResult(query=query, channel=channel, passages=[
        SopPassageView(chunk_id=h.chunk_id, sop_id=h.sop_id, version=h.version, heading=h.heading, text=h.text,
                       score=float(h.score), citation=f"{h.sop_id} v{h.version} § {h.heading}")
        for h in hits[:k]])
