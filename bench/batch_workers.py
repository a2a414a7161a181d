"""Several `triage batch` processes on one database: how much faster, and still each case once.

    .venv/bin/python bench/batch_workers.py --accounts 250 --workers 2

Generates, ingests and reconciles a scenario once (`bench/triage.py`'s `build_cases`), then
triages its open exceptions three times, each time on a fresh copy of the database: with one
`triage batch` process; with `triage batch --workers N`; and with N `triage batch` commands
started together (as cron jobs or machines would). The processes share the work through their
claims (`agent.claims`). Each wall time runs from the start of the command(s) to the end of the
last one, so it includes loading the models. The last line printed is one JSON object: per
run, `processes`, `started`, `cases`, `wall_s`, `cases_per_s`, `runs_per_case` (1.0 when no case
was triaged twice) and `claims_left` (0 when every batch gave back its claims); then the
speedups over one process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from bench.triage import build_cases  # noqa: E402
from billing.db import make_engine, session_factory  # noqa: E402
from billing.migrate import create_engine_and_upgrade  # noqa: E402
from billing.models import Discrepancy, TriageRun  # noqa: E402

TRIAGE = Path(sys.executable).with_name("triage")


def run(work: Path, base: Path, processes: int, *, separate: bool = False) -> dict[str, Any]:
    """Triage a copy of `base` with `processes` batch processes at once: `triage batch --workers
    N`, or with `separate`, N `triage batch` commands started together."""
    name = f"{processes}{'-separate' if separate else ''}"
    db = work / f"run-{name}.db"
    shutil.copy(base, db)
    env = {**os.environ, "TRIAGE_DATABASE_URL": f"sqlite:///{db}", "TRIAGE_LLM__BACKEND": "offline",
           "TRIAGE_CHECKPOINT_URL": f"sqlite:///{work}/checkpoints-{name}.db"}
    command = [str(TRIAGE), "batch", "--json", "--no-progress"]
    start = time.perf_counter()
    if separate:  # as several cron jobs or machines would start them
        procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(processes)]
    else:  # as a person starts them: one command
        procs = [subprocess.Popen([*command, "--workers", str(processes)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)]
    outputs = [p.communicate() for p in procs]
    wall = time.perf_counter() - start
    for p, (_, err) in zip(procs, outputs, strict=True):
        if p.returncode:
            raise SystemExit(f"a batch process failed ({p.returncode}):\n{err}")
    summaries = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    engine = make_engine(f"sqlite:///{db}")
    with session_factory(engine)() as session:
        runs, distinct = session.execute(select(func.count(), func.count(TriageRun.exception_id.distinct()))).one()
        left = session.scalar(select(func.count()).where(Discrepancy.claimed_by.is_not(None)))
    engine.dispose()
    cases = sum(s["cases"] for s in summaries)
    return {"processes": processes, "started": "separately" if separate else ("--workers" if processes > 1 else "alone"), "cases": cases,
            "wall_s": round(wall, 2), "cases_per_s": round(cases / wall, 1),
            "runs_per_case": round(runs / distinct, 3) if distinct else None, "claims_left": left}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=250, help="scenario size (about 4.5 exceptions each)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=4242)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        work = Path(tmp)
        engine = create_engine_and_upgrade(f"sqlite:///{work}/base.db")
        setup = build_cases(engine, work, cases=1, seed=args.seed, accounts=args.accounts, months=3)
        engine.dispose()
        print(f"setup: {setup}", flush=True)
        one = run(work, work / "base.db", 1)
        print(f"one process: {one}", flush=True)
        many = run(work, work / "base.db", args.workers)
        print(f"--workers {args.workers}: {many}", flush=True)
        separate = run(work, work / "base.db", args.workers, separate=True)
        print(json.dumps({"accounts": args.accounts, "one": one, "workers": many, "separate": separate,
                          "speedup": round(many["cases_per_s"] / one["cases_per_s"], 2),
                          "speedup_separate": round(separate["cases_per_s"] / one["cases_per_s"], 2)}))


if __name__ == "__main__":
    main()
