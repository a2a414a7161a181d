"""``triage kb``: index the SOPs, search them, evaluate retrieval.

The only place of the knowledge room's surface that reads the settings: folders, Chroma path
or URL and collection come from ``get_settings().knowledge`` and are passed on explicitly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from billing.settings import get_settings
from knowledge import CATEGORIES, CHANNELS, KBConfig, KnowledgeBase, SOPError, build_index

app = typer.Typer(
    help="Knowledge base: index the SOP runbooks, search them, measure retrieval.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)


def _config() -> KBConfig:
    settings = get_settings().knowledge
    return KBConfig(
        chroma_path=settings.chroma_path,
        chroma_url=settings.chroma_url,
        collection=settings.collection,
    )


def _where(config: KBConfig) -> str:
    return config.chroma_url or str(config.chroma_path)


@app.command()
def index(
    sop_dir: Annotated[
        list[Path] | None,
        typer.Option("--sop-dir", help="SOP folder (repeatable); default: the settings' sop_dirs."),
    ] = None,
) -> None:
    """Index the SOP folders: embed new and changed sections, delete removed ones."""
    config = _config()
    folders = sop_dir or get_settings().knowledge.sop_dirs
    try:
        report = build_index(folders, config=config)
    except (SOPError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from exc
    console.print(
        f"{report.sops} SOPs, {report.chunks} sections in '{config.collection}' "
        f"at {_where(config)}: "
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.deleted} deleted"
    )
    for line in report.overridden:
        console.print(f"  overridden {line}")


def _check(values: list[str] | None, allowed: tuple[str, ...], what: str) -> list[str] | None:
    bad = [v for v in values or [] if v not in allowed]
    if bad:
        raise typer.BadParameter(f"unknown {what} {bad}; allowed: {', '.join(allowed)}")
    return values or None


def _open() -> KnowledgeBase:
    config = _config()
    kb = KnowledgeBase(config)
    if not len(kb):
        err.print(
            f"[red]error:[/red] the index at {_where(config)} is empty: run `triage kb index`"
        )
        raise typer.Exit(code=1)
    return kb


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words or exact terms.")],
    category: Annotated[
        list[str] | None, typer.Option("--category", help="Only these categories (repeatable).")
    ] = None,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="Only these channels (repeatable).")
    ] = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=50, help="How many passages.")] = 5,
    full: Annotated[bool, typer.Option("--full", help="Print whole passages.")] = False,
) -> None:
    """Search the SOPs; prints passages with SOP id, version, heading and score."""
    categories = _check(category, CATEGORIES, "category")
    channels = _check(channel, CHANNELS, "channel")
    passages = _open().search(query, categories=categories, channels=channels, k=k)
    if not passages:
        console.print("no passage found")
        return
    for rank, p in enumerate(passages, start=1):
        console.print(f"[bold]{rank}. {p.sop_id}[/bold] v{p.version} § {p.heading}  "
                      f"[dim]({p.chunk_id}, score {p.score:.4f})[/dim]")
        text = p.text if full else (p.text[:300] + ("…" if len(p.text) > 300 else ""))
        console.print(text, markup=False, highlight=False)
        console.print()


@app.command("eval")
def eval_(
    as_json: Annotated[
        bool, typer.Option("--json", help="End with one JSON line of the fused figures.")
    ] = False,
    misses: Annotated[
        bool, typer.Option("--misses", help="List the queries not answered in the top 3.")
    ] = False,
    query_set: Annotated[
        list[str] | None,
        typer.Option("--set", help="Only this query set (repeatable), e.g. main, holdout3."),
    ] = None,
) -> None:
    """Score retrieval on the labelled queries: vector-only, keyword-only and fused."""
    from knowledge.eval import evaluate, load_queries

    try:
        queries = load_queries(sets=query_set)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    report = evaluate(_open(), queries)
    table = Table(title=f"retrieval eval: {report.queries} labelled queries")
    columns = ("mode", "recall@1", "recall@3", "MRR", "p50 ms", "p95 ms", "p50 cpu", "p95 cpu")
    for column in columns:
        table.add_column(column, justify="left" if column == "mode" else "right")
    for r in report.results:
        table.add_row(r.mode, f"{r.recall_at_1:.3f}", f"{r.recall_at_3:.3f}", f"{r.mrr:.3f}",
                      f"{r.p50_ms:.1f}", f"{r.p95_ms:.1f}",
                      f"{r.p50_cpu_ms:.1f}", f"{r.p95_cpu_ms:.1f}")
    console.print(table)
    if report.by_set:
        sets = Table(title="fused, per query set")
        for column in ("set", "n", "r@1", "r@3", "MRR", "p50", "p95", "p50 cpu", "p95 cpu"):
            sets.add_column(column, justify="left" if column == "set" else "right")
        for name, r in report.by_set.items():
            sets.add_row(name, str(r.n), f"{r.recall_at_1:.3f}", f"{r.recall_at_3:.3f}",
                         f"{r.mrr:.3f}", f"{r.p50_ms:.1f}", f"{r.p95_ms:.1f}",
                         f"{r.p50_cpu_ms:.1f}", f"{r.p95_cpu_ms:.1f}")
        console.print(sets)
    console.print(f"wall-clock latency per query (ms; cpu = CPU time of this process); "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    console.print(
        f"{report.no_shared_title_words} queries share no word with the title or headings of "
        f"the SOP they need; {report.no_shared_words} share none with the answering passages."
    )
    if misses:
        for q in report.fused().misses:
            console.print(f"  miss: {q}", markup=False)
    if as_json:
        fused = report.fused()
        print(json.dumps({
            "recall@1": fused.recall_at_1,
            "recall@3": fused.recall_at_3,
            "mrr": fused.mrr,
            "p50_ms": fused.p50_ms,
            "p95_ms": fused.p95_ms,
            "p50_cpu_ms": fused.p50_cpu_ms,
            "p95_cpu_ms": fused.p95_cpu_ms,
        }))


if __name__ == "__main__":  # pragma: no cover
    app()
