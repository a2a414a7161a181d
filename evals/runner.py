"""Run an eval: each labelled case into a fresh database, through the real triage graph, scored.

    from evals.runner import run_eval
    run = run_eval("evals/cases/curated", backend="offline")
    print(run.metrics.headline())

For each case, the bundle's expected labels are removed *before* it is loaded (the agent can
only see what is in its database), the bundle is loaded into a database of its own
(`evals.isolation`), and the exception goes through `agent.runner.open_triage(...).case(...)`
— gather, retrieve, classify, draft, verify, route — exactly as in production. A case the
policy sends to a person stops at the review interrupt and is scored as routed ``human``; it
is never resumed. One backend and one SOP retriever serve every case (building them is the
expensive part), each case gets its own in-memory checkpointer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from agent.llm.base import Backend
from agent.llm.factory import make_backend
from agent.retrieval import SopRetriever, knowledge_retriever
from agent.runner import open_triage
from billing.bundles import BundleLoadError, load_bundle
from billing.db import transaction
from billing.settings import Settings, get_settings
from evals.capture import CaseCapture
from evals.case_result import case_result
from evals.case_set import CaseSet, CaseSetError, EvalCase, load_case_set
from evals.identity import RunIdentity, code_version, new_run_id, sop_corpus_hash
from evals.isolation import CaseDatabases
from evals.leakage import check_no_leakage
from evals.results import CaseResult
from evals.scoring import score_run
from evals.store import EvalRun

BackendChoice = Literal["offline", "openai"]
Progress = Callable[[CaseResult], None]


class EvalConfigError(ValueError):
    """The eval cannot run as configured (e.g. the openai backend without a key or server)."""


def eval_settings(base: Settings, backend: BackendChoice, model: str | None = None) -> Settings:
    """The settings of an eval run: the chosen backend (and model), checkpoints kept in memory."""
    llm_update: dict[str, object] = {"backend": backend}
    if model:
        llm_update["model"] = model
    settings = base.model_copy(update={"llm": base.llm.model_copy(update=llm_update), "checkpoint_url": "memory://"})
    if backend == "openai" and not (settings.llm.api_key or settings.llm.base_url):
        raise EvalConfigError("the openai backend needs an API key or a compatible server: set OPENAI_API_KEY "
                              "and/or OPENAI_BASE_URL (or TRIAGE_LLM__API_KEY / TRIAGE_LLM__BASE_URL)")
    return settings


def sop_retriever(settings: Settings) -> SopRetriever:
    """The real SOP retriever, its index first brought in line with the SOP folders (incremental:
    only changed passages are embedded), so the corpus hash in the run describes what was searched."""
    import knowledge

    config = knowledge.KBConfig(chroma_path=settings.knowledge.chroma_path, chroma_url=settings.knowledge.chroma_url,
                                collection=settings.knowledge.collection)
    knowledge.build_index(list(settings.knowledge.sop_dirs), config=config)
    return knowledge_retriever(settings)


def run_case(case: EvalCase, *, databases: CaseDatabases, settings: Settings, backend: Backend,
             retriever: SopRetriever) -> CaseResult:
    """Triage one case in a fresh database and score it against its labels."""
    bundle = case.bundle.model_copy(update={"expected": None})  # the agent never sees the labels
    with databases.fresh() as engine:
        start = time.perf_counter()
        try:
            with transaction(engine) as session:
                exception_id = load_bundle(session, bundle)
        except BundleLoadError as exc:
            raise CaseSetError(f"{case.source}: {exc.path}: {exc.message}") from exc
        except Exception as exc:
            raise CaseSetError(f"{case.source}: cannot be loaded: {type(exc).__name__}: {exc}") from exc
        load_ms = (time.perf_counter() - start) * 1000
        capture = CaseCapture(retriever)  # the real tools and retriever, their answers kept for scoring
        with open_triage(settings, engine=engine, backend=backend, retriever=capture.retrieve,
                         run_tools=capture.tools, checkpoint_url="memory://") as triage:
            outcome = triage.case(exception_id)
    return case_result(case, outcome, capture, settings, load_ms=load_ms, default_model=backend.model)


def run_eval(
    cases: str | Path | CaseSet,
    *,
    backend: BackendChoice = "offline",
    model: str | None = None,
    settings: Settings | None = None,
    agent_backend: Backend | None = None,
    retriever: SopRetriever | None = None,
    concurrency: int | None = None,
    workdir: Path | None = None,
    progress: Progress | None = None,
) -> EvalRun:
    """Score a backend on a case set; nothing is written (see `evals.store.save_run`).

    `agent_backend` / `retriever` replace the ones built from the settings (tests, recording).
    Concurrency defaults to 1 for the offline backend (CPU-bound) and 4 for openai (network-bound).
    Raises `LeakageError` when the set overlaps the offline backend's library, `CaseSetError` or
    `BundleFileErrors` for unreadable cases, `EvalConfigError` for an unusable configuration."""
    started = time.perf_counter()
    case_set = cases if isinstance(cases, CaseSet) else load_case_set(cases)
    check_no_leakage(case_set)
    settings = eval_settings(settings or get_settings(), backend, model)
    chosen = agent_backend or make_backend(settings)  # no engine: an eval case has no review history
    retriever = retriever or sop_retriever(settings)
    workers = concurrency or (1 if backend == "offline" else 4)

    with CaseDatabases(workdir) as databases:
        def one(case: EvalCase) -> CaseResult:
            result = run_case(case, databases=databases, settings=settings, backend=chosen, retriever=retriever)
            if progress is not None:
                progress(result)
            return result

        if workers <= 1:
            results = [one(c) for c in case_set.cases]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eval") as pool:
                results = list(pool.map(one, case_set.cases))  # map keeps the set's order

    now = datetime.now(UTC)
    identity = RunIdentity(
        run_id=new_run_id(chosen.name, case_set.hash, now), created_at=now, backend=chosen.name,
        model=chosen.model, prompt_version=chosen.prompt_version,
        sop_index_version=sop_corpus_hash(settings.knowledge.sop_dirs), code_version=code_version(),
        case_set_path=str(case_set.path), case_set_hash=case_set.hash,
        case_set_seeds=case_set.manifest.seeds if case_set.manifest else None,
        confidence_threshold=settings.routing.confidence_threshold,
        materiality_usd=format(settings.routing.materiality_usd, "f"), concurrency=workers,
        elapsed_s=round(time.perf_counter() - started, 3),
    )
    metrics = score_run(results, prices=settings.llm.prices_per_mtok,
                        confidence_threshold=settings.routing.confidence_threshold)
    return EvalRun(identity=identity, metrics=metrics, results=results)
