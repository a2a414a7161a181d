"""Running the graph: one case, a batch of every open exception, a review decision.

`open_triage(...)` builds the dependencies and the checkpointer once and yields a `Triage`
whose methods run cases on the same compiled graph. Batches are resumable: they take the
exceptions still `open`, so a batch stopped half-way picks up where it stopped on the next
run. Several batches can run at once, in any processes: each claims the open exceptions it
takes, under a lease (`agent.claims`), so none is triaged twice. Within a batch, concurrency
is a thread pool (backends wait on the network; the databases serialise their own writes).
Batches use ``durability="exit"``: a checkpoint is written only when a case stops for review
or ends, not after every node.

What a run writes to the database (review item, run, audit trail, status) is staged and
committed after the run returned, i.e. after its checkpoint is saved (`agent.staging`): in a
batch, `group_size` cases per transaction. A batch reads its cases ahead a chunk at a time,
set-based (`agent.evidence.BatchTools`, `tools.prefetch`). `repair_orphans` requeues review
items whose thread has no pending review in the checkpoint store.
"""

from __future__ import annotations

import contextvars
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command
from pydantic import BaseModel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import Engine, select

from agent.audit import entry, write_entries
from agent.checkpoint import open_checkpointer
from agent.claims import Claims, holder, worker_name
from agent.collector import long_lived_frozen
from agent.deps import TriageDeps
from agent.evidence import BatchTools, ToolRunner, tools_runner
from agent.graph import TriageGraph, build_graph
from agent.llm.base import Backend
from agent.llm.factory import make_backend
from agent.retrieval import SopRetriever, knowledge_retriever
from agent.review_queue import (
    ReviewDecision,
    ReviewError,
    claim,
    edit_problems,
    item_ids,
    release,
    requeue_orphan,
)
from agent.sessions import sessions, unit_of_work
from agent.staging import StagedWriter
from agent.stake import fx_rates_remembered
from billing.migrate import create_engine_and_upgrade
from billing.models import (
    Discrepancy,
    ExceptionStatus,
    ReviewItem,
    ReviewStatus,
    RunStatus,
    TriageRun,
)
from billing.settings import Settings, get_settings

Durability = Literal["sync", "async", "exit"]
Status = Literal["triaged", "in_review", "resolved", "waiting_review", "failed"]


class CaseOutcome(BaseModel):
    """How one case ended (or where it stopped)."""

    exception_id: int
    thread_id: str
    status: Status
    route: str | None = None
    reasons: list[str] = []
    category: str | None = None
    action: str | None = None
    escalate_to: str | None = None
    confidence: float | None = None
    review_item_id: int | None = None
    problems: list[str] = []
    error: str | None = None
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    wall_ms: float = 0.0
    values: dict[str, Any] = {}  # the final graph state (evidence, draft...) for reports


@dataclass
class BatchSummary:
    """What a batch did."""

    batch_id: str
    cases: int = 0
    elapsed_s: float = 0.0
    by_status: Counter[str] = field(default_factory=Counter)
    by_route: Counter[str] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)
    failed: list[tuple[int, str]] = field(default_factory=list)
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    wall_ms: list[float] = field(default_factory=list)

    def add(self, outcome: CaseOutcome) -> None:
        """Count one finished case."""
        self.cases += 1
        self.by_status[outcome.status] += 1
        if outcome.route:
            self.by_route[outcome.route] += 1
        if outcome.category:
            self.by_category[outcome.category] += 1
        if outcome.error:
            self.failed.append((outcome.exception_id, outcome.error))
        self.llm_calls += outcome.llm_calls
        self.input_tokens += outcome.input_tokens
        self.output_tokens += outcome.output_tokens
        self.wall_ms.append(outcome.wall_ms)

    @classmethod
    def combined(cls, batch_id: str, parts: list[BatchSummary], elapsed_s: float) -> BatchSummary:
        """The batches of several processes that ran at once, as one (`elapsed_s`: all of them)."""
        total = cls(batch_id=batch_id, elapsed_s=elapsed_s)
        for part in parts:
            total.cases += part.cases
            for mine, theirs in ((total.by_status, part.by_status), (total.by_route, part.by_route),
                                 (total.by_category, part.by_category)):
                mine.update(theirs)
            total.failed += part.failed
            total.llm_calls += part.llm_calls
            total.input_tokens += part.input_tokens
            total.output_tokens += part.output_tokens
            total.wall_ms += part.wall_ms
        return total

    def to_dict(self) -> dict[str, Any]:
        """Plain figures for JSON output."""
        return {
            "batch_id": self.batch_id, "cases": self.cases, "elapsed_s": round(self.elapsed_s, 3),
            "cases_per_s": round(self.cases / self.elapsed_s, 2) if self.elapsed_s else None,
            "by_status": dict(self.by_status), "by_route": dict(self.by_route),
            "by_category": dict(self.by_category), "failed": [{"exception_id": i, "error": e} for i, e in self.failed],
            "llm_calls": self.llm_calls, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
        }


def new_thread_id(exception_id: int) -> str:
    """A fresh LangGraph thread for one run over one exception."""
    return f"x{exception_id}-{uuid.uuid4().hex[:16]}"


class Triage:
    """A compiled graph with its dependencies and checkpointer, ready to run cases."""

    def __init__(self, deps: TriageDeps, checkpointer: BaseCheckpointSaver[Any], *,
                 durability: Durability = "exit") -> None:
        self.deps = deps
        self.checkpointer = checkpointer
        self.durability: Durability = durability
        self.graph: TriageGraph = build_graph(deps, checkpointer)

    # -- one case ---------------------------------------------------------------------------

    def case(self, exception_id: int, *, batch_id: str | None = None, checked: bool = False) -> CaseOutcome:
        """Triage one exception; a failure is reported in the outcome, never half-written.

        Unless `checked`, refuses an exception that does not exist or waits for review."""
        if not checked:
            self._check_can_triage(exception_id)
        failures: dict[int, str] = {}
        writer = StagedWriter(self.deps.engine, size=1, on_failure=failures.__setitem__)
        with self._writing(writer):
            outcome = self._run_case(exception_id, batch_id, writer)
        writer.flush()
        if exception_id in failures:  # finished, but could not be stored: the exception stays as it was
            return outcome.model_copy(update={"status": "failed", "error": failures[exception_id]})
        return self._with_item_ids([outcome])[0]

    def _run_case(self, exception_id: int, batch_id: str | None, writer: StagedWriter) -> CaseOutcome:
        """One graph run; its writes are released to `writer` only once the run returned (its
        checkpoint saved), and dropped if it failed."""
        thread_id = new_thread_id(exception_id)
        start = time.perf_counter()
        try:
            values = self.graph.invoke(
                {"exception_id": exception_id, "thread_id": thread_id, "batch_id": batch_id, "review_round": 1},
                {"configurable": {"thread_id": thread_id}}, durability=self.durability,
            )
        except Exception as exc:  # noqa: BLE001 - one bad case must not stop a batch; it stays open
            writer.discard(thread_id)
            error = f"{type(exc).__name__}: {exc}"
            self._record_failure(exception_id, thread_id, batch_id, error)
            return CaseOutcome(exception_id=exception_id, thread_id=thread_id, status="failed", error=error,
                               wall_ms=(time.perf_counter() - start) * 1000)
        writer.release(thread_id)
        return _outcome(exception_id, thread_id, values, (time.perf_counter() - start) * 1000)

    @contextmanager
    def _writing(self, writer: StagedWriter) -> Iterator[None]:
        saved = self.deps.writer
        self.deps.writer = writer
        try:
            yield
        finally:
            self.deps.writer = saved

    def _with_item_ids(self, outcomes: list[CaseOutcome]) -> list[CaseOutcome]:
        """Fill in the review item ids of waiting cases (their items are stored after their runs)."""
        wanted = [(o.thread_id, int(o.values.get("review_round", 1))) for o in outcomes
                  if o.status == "waiting_review" and o.review_item_id is None]
        if not wanted:
            return outcomes
        with sessions(self.deps.engine)() as session:
            ids = item_ids(session, wanted)
        return [o.model_copy(update={"review_item_id": ids.get((o.thread_id, int(o.values.get("review_round", 1))))})
                if o.status == "waiting_review" and o.review_item_id is None else o for o in outcomes]

    def _check_can_triage(self, exception_id: int) -> None:
        with sessions(self.deps.engine)() as session:
            row = session.get(Discrepancy, exception_id)
            if row is None:
                raise LookupError(f"exception {exception_id} does not exist")
            worker = holder(row)
            if worker is not None:
                raise ReviewError(f"exception {exception_id} is being triaged by batch {worker} "
                                  f"(claimed until {row.claim_expires_at:%Y-%m-%d %H:%M} UTC); wait for it")
            pending = session.scalars(select(ReviewItem.id).where(
                ReviewItem.exception_id == exception_id,
                ReviewItem.status.in_([ReviewStatus.PENDING, ReviewStatus.CLAIMED]))).first()
        if pending is not None:
            raise ReviewError(f"exception {exception_id} is waiting for review (item {pending}); decide it first")

    def _record_failure(self, exception_id: int, thread_id: str, batch_id: str | None, error: str) -> None:
        deps = self.deps
        with unit_of_work(deps.engine) as session:
            session.add(TriageRun(thread_id=thread_id, exception_id=exception_id, batch_id=batch_id,
                                  status=RunStatus.FAILED, backend=deps.backend.name, model=deps.backend.model,
                                  prompt_version=deps.backend.prompt_version, evidence_hash="", error=error))
            write_entries(session, exception_id=exception_id, thread_id=thread_id,
                          entries=[entry(0, "error", deps.actor, {"error": error, "batch_id": batch_id})])

    # -- a batch ----------------------------------------------------------------------------

    def open_exception_ids(self, *, period: str | None = None, limit: int | None = None) -> list[int]:
        """Exceptions still open (not yet triaged), oldest first."""
        query = select(Discrepancy.id).where(Discrepancy.status == ExceptionStatus.OPEN)
        if period:
            query = query.where(Discrepancy.period == period)
        query = query.order_by(Discrepancy.id)
        if limit:
            query = query.limit(limit)
        with sessions(self.deps.engine)() as session:
            return list(session.scalars(query))

    def batch(self, *, period: str | None = None, concurrency: int | None = None, limit: int | None = None,
              progress: bool = True, batch_id: str | None = None, group_size: int = 200) -> BatchSummary:
        """Triage every open exception (of `period`) that no other batch holds; run it again to
        finish an interrupted batch, or run several at once to share the work (`agent.claims`).

        The exceptions are claimed `settings.claims.size` at a time, and each claim is triaged
        as one read-ahead chunk. `concurrency` defaults to 1 for the offline backend, which is
        CPU-bound, and to 4 for a backend that waits on a server. Finished cases are committed
        `group_size` at a time, and the tools reuse a read-only session per worker thread."""
        if concurrency is None:
            concurrency = 1 if self.deps.backend.name == "offline" else 4
        batch = batch_id or f"b-{uuid.uuid4().hex[:12]}"
        claims = Claims(self.deps.engine, worker_name(batch), timedelta(seconds=self.deps.settings.claims.lease_s))
        failures: dict[int, str] = {}
        writer = StagedWriter(self.deps.engine, size=group_size, on_failure=failures.__setitem__)
        batch_tools = BatchTools() if self.deps.run_tools is tools_runner else None
        saved_tools = self.deps.run_tools
        if batch_tools is not None:
            self.deps.run_tools = batch_tools
        outcomes: list[CaseOutcome] = []
        tried: set[int] = set()
        chunk: list[int] = []  # claimed: renewed until the chunk's outcomes are committed
        start = time.perf_counter()
        try:
            with (_progress(progress) as bar, self._writing(writer), fx_rates_remembered(),
                  long_lived_frozen() as freeze, claims.renewed(lambda: list(chunk))):
                task = bar.add_task("triage", total=len(self.open_exception_ids(period=period, limit=limit)))
                while limit is None or len(outcomes) < limit:
                    wanted = self.deps.settings.claims.size if limit is None else min(
                        self.deps.settings.claims.size, limit - len(outcomes))
                    # A case that failed in this batch stays claimed by it until the end, and a
                    # claim that returned only such cases means the rest are held by others.
                    chunk = [i for i in claims.take(wanted, period=period) if i not in tried]
                    if not chunk:
                        break
                    tried.update(chunk)
                    if batch_tools is not None:
                        batch_tools.plan(chunk)
                    for outcome in self._run_chunk(chunk, batch, writer, concurrency):
                        outcomes.append(outcome)
                        freeze()  # the first case loaded what the batch keeps
                        bar.advance(task)
                    writer.flush()  # their statuses are committed: their claims end with them
        finally:
            # Also when the batch is stopped (Ctrl-C): the runs that returned have their checkpoints,
            # so their writes are committed; the rest stay `open`, free for the next batch at once.
            writer.flush()
            try:
                claims.release(tried)
            except Exception as exc:  # noqa: BLE001 - the claims lapse with their lease; keep the batch's own error
                warnings.warn(f"batch {batch}: its claims could not be released, they lapse in "
                              f"{self.deps.settings.claims.lease_s} s: {type(exc).__name__}: {exc}",
                              RuntimeWarning, stacklevel=1)
            self.deps.run_tools = saved_tools
            if batch_tools is not None:
                batch_tools.close()
        summary = BatchSummary(batch_id=batch)
        for outcome in self._with_item_ids(outcomes):
            if outcome.exception_id in failures:  # finished, but its group could not be stored
                outcome = outcome.model_copy(update={"status": "failed", "error": failures[outcome.exception_id]})
            summary.add(outcome)
        summary.elapsed_s = time.perf_counter() - start
        return summary

    def _run_chunk(self, ids: list[int], batch: str, writer: StagedWriter, concurrency: int) -> Iterator[CaseOutcome]:
        """The cases of one claim, in order on this thread or as they finish on `concurrency` threads."""
        if concurrency <= 1:
            for exception_id in ids:
                yield self._run_case(exception_id, batch, writer)
            return
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="triage") as pool:
            # Each task in a copy of this context: it holds the batch's FX-rate memo.
            futures = [pool.submit(contextvars.copy_context().run, self._run_case, i, batch, writer) for i in ids]
            for future in as_completed(futures):
                yield future.result()

    # -- repairs ----------------------------------------------------------------------------

    def repair_orphans(self, *, rerun: bool = False, dry_run: bool = False) -> list[OrphanRepair]:
        """Find pending review items whose graph thread has no pending review of that round in
        this checkpoint store, and requeue them (`agent.review_queue.requeue_orphan`): the
        exception is `open` again; with `rerun`, it is triaged again at once.

        The runner stores an item only after its checkpoint (see `agent.staging`), so a crash
        cannot make one; a lost or changed checkpoint store, or rows written by older versions,
        can. The reverse half — a thread waiting with no item — needs no repair: its exception
        stayed `open` and is triaged again on a new thread.

        Run against the wrong checkpoint store, every pending item looks orphaned: `dry_run`
        lists what would be requeued and changes nothing."""
        with sessions(self.deps.engine)() as session:
            items = session.execute(
                select(ReviewItem.id, ReviewItem.exception_id, ReviewItem.thread_id, ReviewItem.round)
                .where(ReviewItem.status == ReviewStatus.PENDING).order_by(ReviewItem.id)).all()
        repairs: list[OrphanRepair] = []
        for item_id, exception_id, thread_id, round_ in items:
            if self._waits_for_review(thread_id, round_):
                continue
            reason = (f"review item {item_id}: thread {thread_id} has no pending review (round {round_}) "
                      "in the checkpoint store; requeued")
            requeued = False
            if not dry_run:
                with unit_of_work(self.deps.engine) as session:
                    requeued = requeue_orphan(session, item_id, reason)
            repairs.append(OrphanRepair(item_id=item_id, exception_id=exception_id, thread_id=thread_id,
                                        round=round_, requeued=requeued))
        if rerun:
            for repair in repairs:
                if repair.requeued:
                    repair.rerun = self.case(repair.exception_id)
        return repairs

    def _waits_for_review(self, thread_id: str, round_: int) -> bool:
        snapshot = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        return "review" in snapshot.next and int(snapshot.values.get("review_round", 1)) == round_

    # -- a review decision ------------------------------------------------------------------

    def resume(self, item_id: int, decision: ReviewDecision) -> CaseOutcome:
        """Apply a person's decision to a review item by resuming its graph thread.

        An edit is checked as the agent's drafts are (`agent.review_queue.edit_problems`); one
        with problems is refused, the item left pending, unless the decision accepts it unverified."""
        with unit_of_work(self.deps.engine) as session:
            item = claim(session, item_id)
            thread_id, exception_id = item.thread_id, item.exception_id
        config: dict[str, Any] = {"configurable": {"thread_id": thread_id}}
        writer = StagedWriter(self.deps.engine, size=1)
        start = time.perf_counter()
        try:
            snapshot = self.graph.get_state(config)  # type: ignore[arg-type]
            if "review" not in snapshot.next:
                raise ReviewError(
                    f"review item {item_id}: thread {thread_id} has no pending review in the checkpoint store "
                    "(is TRIAGE_CHECKPOINT_URL the one the batch used? `repair_orphans` requeues such items)"
                )
            problems = edit_problems(snapshot.values, decision, self.deps.settings)
            if problems and not decision.accept_unverified:
                raise ReviewError(
                    f"review item {item_id}: the edit does not check against the evidence: "
                    f"{'; '.join(problems)}. Correct it, or decide again accepting it unverified "
                    "(--accept-unverified) to keep it as written")
            with self._writing(writer):
                values = self.graph.invoke(Command(resume=decision.model_dump(mode="json")), config,  # type: ignore[arg-type]
                                           durability=self.durability)
        except BaseException:
            writer.discard(thread_id)
            with unit_of_work(self.deps.engine) as session:
                release(session, item_id)
            raise
        writer.release(thread_id)
        writer.flush()
        return self._with_item_ids([_outcome(exception_id, thread_id, values, (time.perf_counter() - start) * 1000)])[0]


class OrphanRepair(BaseModel):
    """A review item that mirrored no pending interrupt, and what was done about it."""

    item_id: int
    exception_id: int
    thread_id: str
    round: int
    requeued: bool
    rerun: CaseOutcome | None = None


def _outcome(exception_id: int, thread_id: str, values: dict[str, Any], wall_ms: float) -> CaseOutcome:
    classification = values.get("classification") or {}
    interrupts = values.get("__interrupt__") or []
    item_id = interrupts[0].value.get("item_id") if interrupts else None
    status: Status = "waiting_review" if interrupts else values.get("outcome", "failed")
    plain = {k: v for k, v in values.items() if k != "__interrupt__"}
    return CaseOutcome(
        exception_id=exception_id, thread_id=thread_id, status=status, route=values.get("route"),
        reasons=list(values.get("route_reasons", [])), category=classification.get("category"),
        action=classification.get("action"), escalate_to=classification.get("escalate_to"),
        confidence=classification.get("confidence"), review_item_id=item_id,
        problems=list(values.get("problems", [])), llm_calls=values.get("llm_calls", 0),
        input_tokens=values.get("input_tokens", 0), output_tokens=values.get("output_tokens", 0),
        wall_ms=wall_ms, values=plain,
    )


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress]:
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn(), disable=not enabled, transient=False)
    with bar:
        yield bar


@contextmanager
def open_triage(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    backend: Backend | None = None,
    retriever: SopRetriever | None = None,
    run_tools: ToolRunner | None = None,
    checkpoint_url: str | None = None,
    durability: Durability = "exit",
) -> Iterator[Triage]:
    """A ready `Triage`: anything not passed is built from the settings."""
    settings = settings or get_settings()
    engine = engine or create_engine_and_upgrade(settings.database_url)
    deps = TriageDeps(
        engine=engine,
        backend=backend or make_backend(settings, engine),
        retriever=retriever or knowledge_retriever(settings),
        settings=settings,
        run_tools=run_tools or tools_runner,
    )
    with open_checkpointer(checkpoint_url or settings.checkpoint_url) as checkpointer:
        yield Triage(deps, checkpointer, durability=durability)


def triage_case(exception_id: int, **kwargs: Any) -> CaseOutcome:
    """Triage one exception with the configured backend (see `open_triage` for the options)."""
    with open_triage(**kwargs) as triage:
        return triage.case(exception_id)


def triage_batch(*, period: str | None = None, concurrency: int | None = None, limit: int | None = None,
                 progress: bool = True, **kwargs: Any) -> BatchSummary:
    """Triage every open exception (of `period`), resumably (see `open_triage` for the options)."""
    with open_triage(**kwargs) as triage:
        return triage.batch(period=period, concurrency=concurrency, limit=limit, progress=progress)


def resume_review(item_id: int, decision: ReviewDecision, **kwargs: Any) -> CaseOutcome:
    """Apply a reviewer's decision from any process (see `open_triage` for the options)."""
    with open_triage(**kwargs) as triage:
        return triage.resume(item_id, decision)
