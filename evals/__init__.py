"""Evals: score the agent on labelled case bundles, store and compare runs, gate CI.

    from evals.runner import run_eval
    from evals.store import save_run
    run = run_eval("evals/cases/curated", backend="offline")
    folder = save_run(run)            # evals/runs/<run_id>/: run.json, cases.jsonl, report.md/.html, PNGs

Modules: `case_set` (reading sets), `leakage` (no scoring on the offline library's seeds),
`isolation` (a fresh database per case), `runner`, `case_result`, `drafts` (draft faithfulness),
`metrics` (pure functions), `scoring`, `identity`, `store`, `plots`, `report`, `compare`, `gate`.
"""
