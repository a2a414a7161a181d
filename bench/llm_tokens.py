"""LLM calls and tokens per routine case (classify + draft) on the configured server.

Targets (issue 4, item 12): <= 2 LLM calls and <= 3,000 input tokens per routine case.
Token counts are the server's own `usage` figures. The cases are, by default, the routine
cases of a generated scenario as the graph hands them to a backend (captured by
`bench/llm_scenario_cases.py`); `--cases-file tests/agent/llm/fixtures/cases.json` runs the
five hand-written ones. Run against the local model:

    /work/shared/tools/local-llm start
    OPENAI_BASE_URL=http://127.0.0.1:8011/v1 OPENAI_API_KEY=local TRIAGE_LLM__MODEL=local-qwen2.5-1.5b \\
    TRIAGE_LLM__STRUCTURED_OUTPUT=json_object TRIAGE_LLM__TIMEOUT_S=1800 .venv/bin/python bench/llm_tokens.py

Per-case figures go to stderr; the last line on stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from agent.llm.base import BackendError, CaseInput, Usage
from agent.llm.openai_backend import OpenAIBackend
from billing.settings import get_settings

DEFAULT_CASES = Path(__file__).resolve().parent.parent / "tests" / "agent" / "llm" / "fixtures" / "scenario_cases.json"
MAX_CALLS, MAX_INPUT_TOKENS = 2, 3000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases-file", type=Path, default=DEFAULT_CASES, help="JSON list of CaseInput")
    parser.add_argument("--limit", type=int, default=None, help="only the first N cases")
    args = parser.parse_args()

    llm = get_settings().llm
    backend = OpenAIBackend(llm)
    cases = [CaseInput.model_validate(c) for c in json.loads(args.cases_file.read_text())][: args.limit]
    per_case: list[Usage] = []
    latencies: list[float] = []
    failures = 0
    for case in cases:
        started = time.perf_counter()
        try:
            decided = backend.classify(case)
            drafted = backend.draft(case, decided.value)
        except BackendError as exc:
            failures += 1
            print(f"case {case.case_id}: backend error: {exc}", file=sys.stderr)
            continue
        usage = decided.usage.add(drafted.usage)
        latencies.append((time.perf_counter() - started) * 1000)
        per_case.append(usage)
        repaired = [f"{r['purpose']}: {'; '.join(r['invalid'])[:160]}" for r in decided.raw + drafted.raw
                    if r.get("invalid")]
        print(f"case {case.case_id}: {decided.value.category.value} calls={usage.llm_calls} "
              f"in={usage.input_tokens} out={usage.output_tokens} {latencies[-1]:.0f} ms"
              + (f" repaired after: {repaired}" if repaired else ""), file=sys.stderr)

    def mean(values: list[int]) -> float:
        return round(statistics.fmean(values), 1) if values else 0.0

    calls = [u.llm_calls for u in per_case]
    inputs = [u.input_tokens for u in per_case]
    result = {
        "server": str(backend.client.base_url),
        "model": llm.model,
        "api": llm.api,
        "structured_output": llm.structured_output,
        "cases": len(cases),
        "failed": failures,
        "llm_calls_per_case": mean(calls),
        "max_llm_calls_case": max(calls, default=0),
        "input_tokens_per_case": mean(inputs),
        "max_input_tokens_case": max(inputs, default=0),
        "output_tokens_per_case": mean([u.output_tokens for u in per_case]),
        "cached_input_tokens_per_case": mean([u.cached_input_tokens for u in per_case]),
        "p50_ms": round(statistics.median(latencies)) if latencies else None,
        "targets_met": bool(per_case) and not failures and max(calls) <= MAX_CALLS
        and max(inputs) <= MAX_INPUT_TOKENS,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
