"""Triage throughput: N exceptions through the real graph, and the framework's floor beside it.

    .venv/bin/python bench/triage.py --cases 1000 --backend offline
    OPENAI_BASE_URL=http://127.0.0.1:8080/v1 .venv/bin/python bench/triage.py --cases 50 --backend openai

Generates a scenario (`billing.scenarios`), ingests it and reconciles it. By default it has
enough accounts for N distinct exceptions (+ a few warm-up cases, not counted: about four per
account in three months); with fewer `--accounts`, its exceptions are copied until there are N,
and the copies share their originals' account data, which flatters the evidence reads
(`copied_cases` in the JSON line says how many there were). Then it runs one batch
(`agent.runner.Triage.batch`, SQLite checkpointer, ``durability="exit"``) over the N cases and,
in the same process, invokes of a graph with the same nodes doing nothing (same checkpointer,
same durability), half before the batch and half after it: `empty_graph_per_s` is the mean of
the two rates, `empty_graph_per_s_before_after` shows how far the host's speed moved meanwhile.
The last line printed is one JSON object:

{"cases", "cases_per_s", "p50_ms", "p95_ms", "llm_calls_per_case", "input_tokens_per_case",
 "output_tokens_per_case", "peak_rss_mb", "empty_graph_per_s", "ratio", ...}

With `--nodes`, the counted batch runs a graph whose nodes are timed, and `node_cpu_ms` gives
each node's CPU milliseconds per case (thread CPU time). The nodes' outputs are kept, and the
same cases then go through the same graph again with nodes that only return what the real
ones returned (the review node interrupts as the real one did): `framework_cpu_ms` is what
LangGraph costs carrying this run's real state, not the empty graph's few keys. What is left
of `cpu_ms_per_case` after the nodes and the framework is the runner's own work: the staged
writes of outcomes, audit entries and review items, and garbage collection.

Targets (issue 4, item 12): offline ≥ 100 cases/s in one process, ratio ≥ 0.5; openai ≤ 2
LLM calls and ≤ 3,000 input tokens per routine case.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, select, text, update  # noqa: E402

from agent.checkpoint import open_checkpointer  # noqa: E402
from agent.graph import NODES, Node, assemble, build_empty_graph, node_functions  # noqa: E402
from agent.runner import open_triage  # noqa: E402
from billing.db import make_engine, transaction  # noqa: E402
from billing.migrate import create_engine_and_upgrade  # noqa: E402
from billing.models import Discrepancy, ExceptionStatus, Message  # noqa: E402
from billing.settings import LLMSettings, Settings, get_settings  # noqa: E402

@contextmanager
def databases(postgres: str | None, work: Path) -> Iterator[tuple[str, str]]:
    """The database and checkpoint URLs: SQLite files in `work`, or a fresh schema on `postgres`."""
    if not postgres:
        yield f"sqlite:///{work}/bench.db", f"sqlite:///{work}/checkpoints.db"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(postgres)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{postgres}{'&' if '?' in postgres else '?'}options=-csearch_path%3D{schema}"
    try:
        yield url, url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def build_cases(engine: Engine, work: Path, *, cases: int, seed: int, accounts: int, months: int) -> dict[str, Any]:
    """A reconciled scenario whose exceptions are copied until at least `cases` are open."""
    from billing.ingest import ingest_folder
    from billing.reconcile.run import reconcile
    from billing.scenarios import generate_scenario

    t0 = time.perf_counter()
    scenario = generate_scenario(seed=seed, accounts=accounts, months=months, start="2026-07", out=work / "scenario")
    ingest_folder(engine, work / "scenario")
    reconcile(engine, as_of=scenario.as_of)
    with transaction(engine) as session:
        originals = list(session.scalars(select(Discrepancy).order_by(Discrepancy.id)))
        if not originals:
            raise SystemExit("the scenario produced no exceptions; try more --accounts")
        linked = {m.exception_id: m for m in session.scalars(select(Message).where(Message.exception_id.is_not(None)))}
        needed = cases - len(originals)
        for k in range(max(0, needed)):
            src = originals[k % len(originals)]
            copy = Discrepancy(**{c.key: getattr(src, c.key) for c in Discrepancy.__table__.columns if c.key != "id"})
            copy.natural_key = f"bench{k}:{src.natural_key}"[:255]
            session.add(copy)
            if src.id in linked:  # the copy gets the original's partner message too
                session.flush()
                m = linked[src.id]
                session.add(Message(**{c.key: getattr(m, c.key) for c in Message.__table__.columns if c.key != "id"}
                                    | {"message_id": f"bench{k}:{m.message_id}"[:128], "exception_id": copy.id}))
        session.execute(update(Discrepancy).values(status=ExceptionStatus.OPEN))
    return {"setup_s": round(time.perf_counter() - t0, 2), "distinct_exceptions": len(originals),
            "copied_cases": max(0, needed)}


def empty_graph_rate(checkpoint_url: str, n: int) -> tuple[float, float]:
    """Invokes per second of the same graph with do-nothing nodes (same checkpointer, durability),
    and its CPU milliseconds per invoke."""
    with open_checkpointer(checkpoint_url) as saver:
        graph = build_empty_graph(saver)
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            thread = f"empty-{uuid.uuid4().hex[:12]}"
            graph.invoke({"exception_id": i, "thread_id": thread, "batch_id": None, "review_round": 1},
                         {"configurable": {"thread_id": thread}}, durability="exit")
        return n / (time.perf_counter() - start), (time.process_time() - cpu) / n * 1000


def timed_nodes(nodes: dict[str, Node], spent: dict[str, float]) -> dict[str, Node]:
    """The same nodes, each adding its thread CPU seconds to `spent[name]`."""
    def timed(name: str, node: Node) -> Node:
        def run(state: Any) -> dict[str, Any]:
            start = time.thread_time()
            try:
                return node(state)
            finally:
                spent[name] = spent.get(name, 0.0) + time.thread_time() - start
        return run
    return {name: timed(name, node) for name, node in nodes.items()}


def recorded_nodes(nodes: dict[str, Node], outputs: dict[tuple[int, str], dict[str, Any]]) -> dict[str, Node]:
    """The same nodes, each keeping its first output per case in `outputs[(exception_id, name)]`."""
    def recorded(name: str, node: Node) -> Node:
        def run(state: Any) -> dict[str, Any]:
            out = node(state)
            outputs.setdefault((state["exception_id"], name), out)
            return out
        return run
    return {name: recorded(name, node) for name, node in nodes.items()}


def replay_rate(checkpoint_url: str, outputs: dict[tuple[int, str], dict[str, Any]]) -> tuple[float, float]:
    """Invokes per second, and CPU milliseconds per invoke, of the graph whose nodes return what
    the real ones returned for each case (a node that returned nothing, the review node,
    interrupts as it did): the framework's cost carrying the run's real state."""
    from langgraph.types import interrupt

    def replayed(name: str) -> Node:
        def run(state: Any) -> dict[str, Any]:
            out = outputs.get((state["exception_id"], name))
            if out is None:
                interrupt({"exception_id": state["exception_id"]})
            return out or {}
        return run

    ids = sorted({exception_id for exception_id, _ in outputs})
    with open_checkpointer(checkpoint_url) as saver:
        graph = assemble({name: replayed(name) for name in NODES}, saver)
        start, cpu = time.perf_counter(), time.process_time()
        for exception_id in ids:
            thread = f"replay-{uuid.uuid4().hex[:12]}"
            graph.invoke({"exception_id": exception_id, "thread_id": thread, "batch_id": None, "review_round": 1},
                         {"configurable": {"thread_id": thread}}, durability="exit")
        return len(ids) / (time.perf_counter() - start), (time.process_time() - cpu) / max(1, len(ids)) * 1000


def tools_cpu_ms(engine: Engine, n: int) -> tuple[float, float] | None:
    """CPU milliseconds per case of the evidence tools alone: as a batch gathers (the cases read
    ahead set-based, one shared cache: `tools.gather_evidence_batch`) and case by case."""
    try:
        import tools
    except ImportError:
        return None
    with tools.read_only_session(engine) as session:
        ids = list(session.scalars(select(Discrepancy.id).order_by(Discrepancy.id).limit(n)))
        cpu = time.process_time()
        tools.gather_evidence_batch(session, ids, shared=tools.EvidenceCache(max_entries=8 * len(ids)))
        batch = (time.process_time() - cpu) / max(1, len(ids)) * 1000
        cpu = time.process_time()
        for exception_id in ids:
            tools.gather_evidence(tools.ToolContext.for_exception(session, exception_id))
        alone = (time.process_time() - cpu) / max(1, len(ids)) * 1000
        return batch, alone


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, by the inclusive method."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--backend", choices=["offline", "openai"], default="offline")
    parser.add_argument("--concurrency", type=int, default=None, help="default: 1 offline (CPU-bound), 4 openai")
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--accounts", type=int, default=None,
                        help="default: enough for the cases to be distinct exceptions (about one per 4 cases)")
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the databases here (default: a temp dir)")
    parser.add_argument("--postgres", default=None, metavar="URL",
                        help="a PostgreSQL server (e.g. postgresql://postgres@127.0.0.1:5432/test): the database "
                             "and the checkpoints in a schema of their own there, dropped at the end")
    parser.add_argument("--nodes", action="store_true", help="time each node (node_cpu_ms in the JSON line)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="cases run first and not counted (default 5 offline, 1 openai)")
    args = parser.parse_args()
    concurrency = args.concurrency or (1 if args.backend == "offline" else 4)
    warmup = args.warmup if args.warmup is not None else (5 if args.backend == "offline" else 1)
    accounts = args.accounts or max(24, -(-(args.cases + warmup) // 4))

    with tempfile.TemporaryDirectory(prefix="bench-triage-") as tmp, ExitStack() as stack:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        database_url, checkpoint_url = stack.enter_context(databases(args.postgres, work))
        base = get_settings()
        settings = Settings(
            database_url=database_url, checkpoint_url=checkpoint_url,
            knowledge=base.knowledge, routing=base.routing, email=base.email,
            llm=LLMSettings.model_validate({**base.llm.model_dump(), "backend": args.backend}),
        )
        engine = create_engine_and_upgrade(settings.database_url)
        setup = build_cases(engine, work, cases=args.cases + warmup, seed=args.seed, accounts=accounts,
                            months=args.months)
        print(f"setup: {setup}", flush=True)

        load_before = round(os.getloadavg()[0], 2)
        # The host's speed can move within minutes: the floor is measured before and after the
        # batch, and the ratio uses their mean (both are printed, to show how far it moved).
        floor_n = min(args.cases, 1000) // 2 or 1
        before, before_cpu_ms = empty_graph_rate(settings.checkpoint_url, floor_n)
        with open_triage(settings, engine=engine) as triage:
            t0 = time.perf_counter()
            warm = triage.batch(limit=warmup, progress=False, concurrency=1) if warmup else None  # loads models, caches
            cases_left = triage.open_exception_ids(limit=args.cases)
            warmup_s = time.perf_counter() - t0
            spent: dict[str, float] = {}
            outputs: dict[tuple[int, str], dict[str, Any]] = {}
            if args.nodes:
                nodes = recorded_nodes(timed_nodes(node_functions(triage.deps), spent), outputs)
                triage.graph = assemble(nodes, triage.checkpointer)
            cpu = time.process_time()
            summary = triage.batch(progress=False, concurrency=concurrency, limit=len(cases_left))
            cpu_ms = (time.process_time() - cpu) / max(1, summary.cases) * 1000
            backend_model = triage.deps.backend.model
        after, after_cpu_ms = empty_graph_rate(settings.checkpoint_url, floor_n)
        replay = replay_rate(settings.checkpoint_url, outputs) if args.nodes else None
        empty, empty_cpu_ms = (before + after) / 2, (before_cpu_ms + after_cpu_ms) / 2
        tools_ms = tools_cpu_ms(engine, min(args.cases, 300))

    n = summary.cases
    cases_per_s = n / summary.elapsed_s if summary.elapsed_s else 0.0
    result = {
        "cases": n,
        "backend": args.backend,
        "model": backend_model,
        "concurrency": concurrency,
        "accounts": accounts,
        "cases_per_s": round(cases_per_s, 1),
        "p50_ms": round(percentile(summary.wall_ms, 0.50), 2),
        "p95_ms": round(percentile(summary.wall_ms, 0.95), 2),
        "llm_calls_per_case": round(summary.llm_calls / n, 3),
        "input_tokens_per_case": round(summary.input_tokens / n, 1),
        "output_tokens_per_case": round(summary.output_tokens / n, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "empty_graph_per_s": round(empty, 1),
        "empty_graph_per_s_before_after": [round(before, 1), round(after, 1)],
        "ratio": round(cases_per_s / empty, 3) if empty else None,
        # The machine is shared: its load during the run says how far wall-clock figures can be trusted.
        "load_1m_before": load_before,
        "load_1m_after": round(os.getloadavg()[0], 2),
        # CPU time is steadier than wall time on a shared machine: where the time goes.
        "cpu_ms_per_case": round(cpu_ms, 2),
        "empty_graph_cpu_ms": round(empty_cpu_ms, 2),
        "node_cpu_ms": {name: round(t / n * 1000, 2) for name, t in sorted(spent.items(), key=lambda kv: -kv[1])}
        if args.nodes else None,
        "framework_per_s": None if replay is None else round(replay[0], 1),
        "framework_cpu_ms": None if replay is None else round(replay[1], 2),
        "tools_cpu_ms_per_case": None if tools_ms is None else round(tools_ms[0], 2),
        "tools_cpu_ms_per_case_alone": None if tools_ms is None else round(tools_ms[1], 2),
        "routes": dict(summary.by_route),
        "statuses": dict(summary.by_status),
        "failed": len(summary.failed),
        "warmup_s": round(warmup_s, 2),
        "warmup_failed": len(warm.failed) if warm else 0,
        **setup,
    }
    for exception_id, error in summary.failed[:5]:
        print(f"failed: exception {exception_id}: {error}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
