"""`triage triage`, `triage batch`, `triage review list|show|decide`, `triage audit`: the agent
from the command line.

    triage triage 42                      # one exception: evidence, decision, draft, route
    triage triage --bundle case.json      # import a case bundle, then triage it
    triage batch --period 2026-10 --concurrency 4
    triage batch --workers 2              # two processes sharing the open exceptions
    triage notify                         # post due notifications to the webhooks (retries too)
    triage review list
    triage review decide 7 --decision approve --reviewer ana
    triage audit 42                       # the audit trail of one exception
"""

from __future__ import annotations

import json
import multiprocessing
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, wait
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.tree import Tree
from sqlalchemy import func, select

from agent.audit import trail_of
from agent.notifications import announce_batch, deliver_due
from agent.retrieval import ensure_knowledge_index
from agent.review_queue import ReviewDecision, ReviewError, get_item, pending_items
from agent.runner import BatchSummary, CaseOutcome, Triage, open_triage
from agent.schemas import Draft
from api import context
from billing.db import session_factory
from billing.models import Discrepancy, ExceptionStatus
from billing.settings import NotificationSettings

console = Console()
review_app = typer.Typer(help="The review queue: cases waiting for a person.", no_args_is_help=True)


def _open() -> AbstractContextManager[Triage]:
    """The configured triage (tests replace this to use fakes)."""
    return open_triage(context.settings(), engine=context.engine())


opener: Callable[[], AbstractContextManager[Triage]] = _open


def _fail(message: str) -> typer.Exit:
    console.print(escape(message), style="red", highlight=False)
    return typer.Exit(code=1)


# -- views ------------------------------------------------------------------------------------


def _evidence_view(values: dict[str, Any]) -> Tree:
    exc = values.get("exception", {})
    tree = Tree(f"[bold]exception {exc.get('id')}[/] {escape(str(exc.get('rule')))} / {escape(str(exc.get('kind')))}")
    for key in ("channel", "period", "product_code", "dimension_key", "currency", "expected_amount",
                "observed_amount", "delta_amount", "expected_quantity", "observed_quantity"):
        if exc.get(key) is not None:
            tree.add(f"{key}: {escape(str(exc[key]))}")
    if exc.get("description"):
        tree.add(escape(str(exc["description"])))
    stake = values.get("stake") or {}
    tree.add(f"at stake: {stake.get('amount')} {stake.get('currency') or ''} = USD {stake.get('usd') or 'unknown'}")
    tools = tree.add(f"evidence (hash {str(values.get('evidence_hash', ''))[:12]})")
    for name, result in (values.get("evidence") or {}).items():
        size = len(result) if isinstance(result, list | dict) else 1
        tools.add(f"{escape(name)}: {size} item(s)")
    for text in values.get("outside_text", []):
        flag = f"[red]suspicious: {escape('; '.join(text['reasons']))}[/]" if text.get("suspicious") else "data"
        tree.add(f"outside text {escape(text['message_id'])} from {escape(text['sender_role'])} ({flag})")
    sops = tree.add("SOP passages")
    for p in values.get("sop_passages", []):
        sops.add(f"{escape(p['chunk_id'])} ({escape(p['sop_id'])} v{escape(p['version'])} § {escape(p['heading'])})")
    return tree


def _decision_view(outcome: CaseOutcome) -> Table:
    table = Table(show_header=False, box=None)
    c = outcome.values.get("classification") or {}
    for label, value in (("category", c.get("category")), ("confidence", c.get("confidence")),
                         ("action", c.get("action")), ("escalate to", c.get("escalate_to")),
                         ("owner", c.get("owner")), ("rationale", c.get("rationale")),
                         ("relied on", ", ".join(c.get("evidence_ids", []) + c.get("sop_chunk_ids", [])))):
        table.add_row(label, escape(str(value)) if value is not None else "-")
    return table


def _draft_view(draft: dict[str, Any] | None) -> Panel:
    if not draft:
        return Panel("no draft", title="draft")
    head = f"[bold]{escape(draft['kind'])}[/] to {escape(draft['to'])}\n[bold]{escape(draft['subject'])}[/]\n\n"
    return Panel(head + escape(draft["body"]), title="draft")


def _route_view(outcome: CaseOutcome) -> Panel:
    colour = "green" if outcome.route == "auto" else "yellow"
    lines = [f"[bold {colour}]{outcome.route}[/] → {outcome.status}"
             + (f" (review item {outcome.review_item_id})" if outcome.review_item_id else "")]
    lines += [f"• {escape(r)}" for r in outcome.reasons]
    return Panel("\n".join(lines), title="route")


def _with_recorded_evidence(outcome: CaseOutcome) -> dict[str, Any]:
    """The final state, with the tool results and SOP passages as the audit trail recorded them
    (a finished case drops them from its state; the trail keeps them)."""
    values = dict(outcome.values)
    if values.get("evidence") and values.get("sop_passages"):
        return values
    with session_factory(context.engine())() as session:
        for event in trail_of(session, outcome.exception_id):
            if event.thread_id != outcome.thread_id:
                continue
            if event.event == "tool_results" and not values.get("evidence"):
                values["evidence"] = event.payload.get("results", {})
            if event.event == "sop_passages" and not values.get("sop_passages"):
                values["sop_passages"] = event.payload.get("passages", [])
    return values


def print_outcome(outcome: CaseOutcome) -> None:
    """The evidence, the decision, the draft and the route of one case."""
    if outcome.error:
        console.print(f"[red]exception {outcome.exception_id} failed:[/] {escape(outcome.error)}")
        return
    console.print(Group(Panel(_evidence_view(_with_recorded_evidence(outcome)), title="evidence"),
                        Panel(_decision_view(outcome), title="decision"),
                        _draft_view(outcome.values.get("draft")), _route_view(outcome)))


def print_summary(summary: BatchSummary) -> None:
    """The batch summary report."""
    figures = summary.to_dict()
    table = Table(title=f"batch {summary.batch_id}: {summary.cases} case(s) in {figures['elapsed_s']} s")
    table.add_column("")
    table.add_column("count", justify="right")
    for group in ("by_status", "by_route", "by_category"):
        for key, count in sorted(figures[group].items(), key=lambda kv: -kv[1]):
            table.add_row(f"{group[3:]}: {key}", str(count))
    table.add_row("llm calls / input tokens / output tokens",
                  f"{summary.llm_calls} / {summary.input_tokens} / {summary.output_tokens}")
    console.print(table)
    for exception_id, error in summary.failed:
        console.print(f"[red]failed[/] exception {exception_id}: {escape(error)}")


# -- commands ---------------------------------------------------------------------------------


def triage_cmd(
    case_id: int | None = typer.Argument(None, help="The exception id."),
    bundle: Path | None = typer.Option(None, "--bundle", help="A case bundle file: imported, then triaged."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Triage one exception and print its evidence, decision, draft and route."""
    if (case_id is None) == (bundle is None):
        raise _fail("give an exception id or --bundle FILE (one of them)")
    if bundle is not None:
        from billing.bundles import BundleError, BundleFileErrors, import_cases

        try:
            ids = import_cases(context.engine(), bundle)
        except (BundleError, BundleFileErrors) as exc:
            raise _fail(f"{bundle}: {exc}") from None
        if len(ids) != 1:
            raise _fail(f"{bundle}: holds {len(ids)} cases; triage one bundle at a time, or import and use `batch`")
        case_id = ids[0]
    assert case_id is not None
    try:
        with opener() as triage:
            outcome = triage.case(case_id)
    except (LookupError, ReviewError) as exc:
        raise _fail(str(exc)) from None
    delivery = _deliver(context.settings().notifications)  # the case's notice, if it waits for a person
    if as_json:
        console.print_json(outcome.model_dump_json())
    else:
        print_outcome(outcome)
        _print_delivery(delivery)
    if outcome.error:
        raise typer.Exit(code=1)


def _worker_batch(period: str | None, concurrency: int | None, batch_id: str) -> BatchSummary:
    """One process of `triage batch --workers N`: the same settings, from the same environment."""
    with _open() as triage:
        return triage.batch(period=period, concurrency=concurrency, progress=False, batch_id=batch_id)


def _open_count(period: str | None) -> int:
    query = select(func.count()).where(Discrepancy.status == ExceptionStatus.OPEN)  # on the status index
    if period:
        query = query.where(Discrepancy.period == period)
    with session_factory(context.engine())() as session:
        return int(session.scalar(query) or 0)


def _batch_in_processes(workers: int, period: str | None, concurrency: int | None, progress: bool) -> BatchSummary:
    """`workers` batches at once, each in its own process; their claims share the exceptions out.
    The progress bar counts the open exceptions going down (other batches' work included)."""
    ensure_knowledge_index(context.settings())  # once, before the processes would each build it
    batch_id = f"b-{uuid.uuid4().hex[:12]}"
    start, total = time.perf_counter(), _open_count(period)
    bar = Progress(TextColumn("[bold]triage ×" + str(workers)), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), disable=not progress, console=console)
    # spawn, not fork: a forked child would inherit the parent's open database connections.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool, bar:
        task = bar.add_task("triage", total=total)
        futures = [pool.submit(_worker_batch, period, concurrency, f"{batch_id}-w{i + 1}") for i in range(workers)]
        while wait(futures, timeout=1.0).not_done:
            bar.update(task, completed=total - _open_count(period))
        bar.update(task, completed=total - _open_count(period))
        parts = [f.result() for f in futures]
    return BatchSummary.combined(batch_id, parts, time.perf_counter() - start)


def batch_cmd(
    period: str | None = typer.Option(None, "--period", help="Only exceptions of this period (YYYY-MM)."),
    concurrency: int | None = typer.Option(None, "--concurrency", min=1, max=64,
                                           help="Cases in flight at once (default: 1 offline, 4 openai)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many cases."),
    workers: int = typer.Option(1, "--workers", min=1, max=64,
                                help="Batch processes sharing the work (the offline backend uses a core each)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON line."),
) -> None:
    """Triage every open exception; run it again to finish a batch that stopped.

    Several batches may run at once, started here with --workers or anywhere else: each claims
    the exceptions it takes, so none is triaged twice."""
    if workers > 1:
        if limit is not None:
            raise _fail("--limit counts the cases of one process; use it without --workers")
        summary = _batch_in_processes(workers, period, concurrency, progress and not as_json)
        batch_ids = [f"{summary.batch_id}-w{i + 1}" for i in range(workers)]
    else:
        with opener() as triage:
            summary = triage.batch(period=period, concurrency=concurrency, limit=limit,
                                   progress=progress and not as_json)
        batch_ids = [summary.batch_id]
    notices = context.settings().notifications
    announce_batch(context.engine(), notices, batch_id=summary.batch_id, batch_ids=batch_ids, cases=summary.cases,
                   by_status=dict(summary.by_status), failed=len(summary.failed))
    delivery = _deliver(notices)
    if as_json:
        print(json.dumps(summary.to_dict() | ({"notifications": delivery} if delivery else {})))
    else:
        print_summary(summary)
        _print_delivery(delivery)


def _deliver(settings: NotificationSettings) -> dict[str, int] | None:
    """Post the notices that are due, if webhooks are configured: counts of what happened."""
    if not settings.webhook_urls:
        return None
    report = deliver_due(context.engine(), settings)
    return {"delivered": len(report.delivered), "retrying": len(report.retrying), "failed": len(report.failed)}


def _print_delivery(delivery: dict[str, int] | None) -> None:
    if delivery and any(delivery.values()):
        console.print(f"notifications: {delivery['delivered']} delivered, {delivery['retrying']} to retry "
                      f"(`triage notify`), {delivery['failed']} failed")


def notify_cmd(as_json: bool = typer.Option(False, "--json", help="Print the counts as one JSON line.")) -> None:
    """Post the notifications that are due to the configured webhooks (retries included); run it
    from cron to retry what a webhook refused for a while."""
    settings = context.settings().notifications
    if not settings.webhook_urls:
        raise _fail("no webhook configured: set TRIAGE_NOTIFICATIONS__WEBHOOK_URLS (a JSON list)")
    delivery = _deliver(settings) or {}
    if as_json:
        print(json.dumps(delivery))
    else:
        console.print(f"notifications: {delivery['delivered']} delivered, {delivery['retrying']} to retry, "
                      f"{delivery['failed']} failed")


@review_app.command("list")
def review_list(as_json: bool = typer.Option(False, "--json", help="Print the items as JSON.")) -> None:
    """The cases waiting for a person, oldest first."""
    with session_factory(context.engine())() as session:
        items = pending_items(session)
    if as_json:
        print(json.dumps([i.model_dump(mode="json") for i in items]))
        return
    table = Table(title=f"{len(items)} case(s) waiting for review")
    for column in ("item", "exception", "category", "confidence", "USD at stake", "why"):
        table.add_column(column)
    for i in items:
        table.add_row(str(i.id), str(i.exception_id), i.category or "-", f"{i.confidence:.2f}" if i.confidence is not None else "-",
                      f"{i.amount_usd:,.2f}" if i.amount_usd is not None else "unknown", escape("; ".join(i.reasons)))
    console.print(table)


@review_app.command("show")
def review_show(item_id: int = typer.Argument(..., help="The review item id.")) -> None:
    """One review item: its reasons and draft."""
    with session_factory(context.engine())() as session:
        try:
            item = get_item(session, item_id)
        except ReviewError as exc:
            raise _fail(str(exc)) from None
    console.print(Panel("\n".join(f"• {escape(r)}" for r in item.reasons),
                        title=f"item {item.id}: exception {item.exception_id} ({item.status})"))
    console.print(_draft_view(item.draft))


def _draft_from_file(path: Path, item_draft: dict[str, Any] | None) -> Draft:
    """A JSON file is a whole draft; any other file is a new body for the proposed draft."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return Draft.model_validate_json(text)
    if not item_draft:
        raise ReviewError(f"{path}: the item has no draft to change the body of; give a .json draft")
    return Draft.model_validate({**item_draft, "body": text})


@review_app.command("decide")
def review_decide(
    item_id: int = typer.Argument(..., help="The review item id."),
    decision: str = typer.Option(..., "--decision", help="approve | edit | reclassify | reject"),
    reviewer: str = typer.Option(..., "--reviewer", help="Who decides (recorded in the audit trail)."),
    category: str | None = typer.Option(None, "--category", help="The right category (edit, reclassify)."),
    reason: str | None = typer.Option(None, "--reason", help="Why (required to reject)."),
    draft_file: Path | None = typer.Option(None, "--draft-file", help="Changed draft: .json, or a text body (edit)."),
    accept_unverified: bool = typer.Option(
        False, "--accept-unverified",
        help="Keep an edit although its check found amounts, ids or dates not in the evidence (recorded)."),
) -> None:
    """Decide a review item; the case's graph resumes from where it stopped, in this process."""
    try:
        with session_factory(context.engine())() as session:
            item = get_item(session, item_id)
        draft = _draft_from_file(draft_file, item.draft) if draft_file else None
        choice = ReviewDecision(decision=decision, reviewer=reviewer, category=category, reason=reason,  # type: ignore[arg-type]
                                draft=draft, accept_unverified=accept_unverified)
    except (ValidationError, ReviewError, OSError) as exc:
        raise _fail(f"review item {item_id}: {exc}") from None
    try:
        with opener() as triage:
            outcome = triage.resume(item_id, choice)
    except ReviewError as exc:
        raise _fail(str(exc)) from None
    console.print(f"item {item_id}: {choice.decision.value} by {escape(reviewer)} → exception "
                  f"{outcome.exception_id} is {outcome.status}")
    for problem in outcome.problems if choice.decision.value == "edit" else []:
        console.print(f"[yellow]kept unverified:[/] {escape(problem)}")
    if outcome.review_item_id:
        console.print(f"redrafted for {outcome.category}: waiting again as review item {outcome.review_item_id}")


@review_app.command("repair")
def review_repair(
    apply: bool = typer.Option(False, "--apply", help="Requeue what is found (default: only list it)."),
    rerun: bool = typer.Option(False, "--rerun", help="With --apply: triage each requeued case again at once."),
) -> None:
    """Find review items whose graph thread waits for no review in the configured checkpoint
    store, and (with --apply) take them out of the queue so their cases are triaged again.

    Listing is the default because, pointed at the wrong checkpoint store, every pending item
    looks orphaned: check the list before applying."""
    if rerun and not apply:
        raise _fail("--rerun needs --apply")
    with opener() as triage:
        repairs = triage.repair_orphans(rerun=rerun, dry_run=not apply)
    if not repairs:
        console.print("every pending review item waits on its graph thread: nothing to repair")
        return
    table = Table(title=f"{len(repairs)} review item(s) with no pending review in the checkpoint store")
    for column in ("item", "exception", "thread", "round", "done"):
        table.add_column(column)
    for r in repairs:
        done = ("requeued" + (f", re-triaged: {r.rerun.status}" if r.rerun else "")) if r.requeued else "listed only"
        table.add_row(str(r.item_id), str(r.exception_id), r.thread_id, str(r.round), done)
    console.print(table)
    if not apply:
        console.print("nothing changed; run again with --apply (and --rerun to triage them at once)")


def audit_cmd(
    case_id: int = typer.Argument(..., help="The exception id."),
    as_json: bool = typer.Option(False, "--json", help="Print the events as JSON lines."),
) -> None:
    """The audit trail of one exception, across its runs, in order."""
    with session_factory(context.engine())() as session:
        events = trail_of(session, case_id)
    if as_json:
        for e in events:
            print(e.model_dump_json())
        return
    table = Table(title=f"audit trail of exception {case_id}: {len(events)} event(s)")
    for column in ("when (UTC)", "thread", "#", "event", "actor", "summary"):
        table.add_column(column)
    for e in events:
        table.add_row(f"{e.created_at:%Y-%m-%d %H:%M:%S}", e.thread_id, str(e.seq), e.event, escape(e.actor),
                      escape(_summary(e.event, e.payload)))
    console.print(table)


def _summary(event: str, payload: dict[str, Any]) -> str:
    if event == "route":
        return f"{payload.get('route')}: {'; '.join(payload.get('reasons', []))}"
    if event in ("classification", "draft"):
        output = payload.get("output") or {}
        return f"{payload.get('model', '')} {output.get('category') or output.get('subject') or ''}"
    if event == "review_decision":
        return f"{payload.get('decision')} {payload.get('category') or ''} {payload.get('reason') or ''}".strip()
    if event == "verify":
        return "; ".join(payload.get("problems", [])) or "ok"
    if event == "finalize":
        return str(payload.get("outcome"))
    if event == "inputs":
        return f"evidence {str(payload.get('evidence_hash', ''))[:12]}"
    return ""


def register(app: typer.Typer) -> None:
    """Add `triage`, `batch`, `notify`, `review` and `audit` to the `triage` command."""
    app.command("triage")(triage_cmd)
    app.command("batch")(batch_cmd)
    app.command("notify")(notify_cmd)
    app.add_typer(review_app, name="review")
    app.command("audit")(audit_cmd)
