"""The `openai` backend through the whole eval, replayed from vcrpy cassettes (record mode `none`).

Four curated cases (copied, frozen, into `fixtures/openai_cases/`: a credit applied early, a
CPPO listing fee charged twice, a direct short payment eaten by bank charges, and an orphan
credit note whose customer email tries to instruct the assistant) run through the real graph
with the `openai` backend. The SOP passages are frozen too (`fixtures/openai_passages.json`,
written while recording), so the requests — and the cassettes — depend on the prompts and
the cases only, not on the SOP index.

Replay never touches the network (`block_network`: a socket connect raises). Recorded against
the local llama.cpp server (`/work/shared/tools/local-llm start`; Qwen2.5-Coder-1.5B, its
`json_object` dialect); `cassettes/recorded_with.json` names the server. Re-record (after a
prompt or case change) with:

    OPENAI_BASE_URL=http://127.0.0.1:8011/v1 OPENAI_API_KEY=local TRIAGE_LLM__MODEL=local-qwen2.5-1.5b \\
    TRIAGE_LLM__STRUCTURED_OUTPUT=json_object \\
    .venv/bin/pytest tests/evals/test_openai_eval.py --record-mode=rewrite
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agent.llm.base import SopPassage
from agent.retrieval import SopRetriever
from billing.settings import LLMSettings, Settings
from evals.runner import run_eval, sop_retriever
from evals.store import save_run

HERE = Path(__file__).resolve().parent
CASES = HERE / "fixtures" / "openai_cases"
PASSAGES = HERE / "fixtures" / "openai_passages.json"
CASSETTES = HERE / "cassettes"
RECORDED_WITH = CASSETTES / "recorded_with.json"
DUMMY_KEY = "sk-replay-dummy-key"
_SECRET_HEADERS = ("authorization", "api-key", "x-api-key", "openai-organization", "openai-project", "cookie")


def _scrub_request(request: Any) -> Any:
    """No credentials, nor the SDK's machine fingerprint headers, in a cassette."""
    for name in list(request.headers):
        if name.lower() in _SECRET_HEADERS or name.lower().startswith("x-stainless"):
            del request.headers[name]
    return request


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": list(_SECRET_HEADERS),
        "before_record_request": _scrub_request,
        # Every LLM call posts to the same path: only the body tells two calls apart.
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
        # No "record_mode" here: it would override --record-mode; without the option it is "none".
        "decode_compressed_response": True,
    }


@pytest.fixture
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


@pytest.fixture
def recording(record_mode: str) -> bool:
    return record_mode != "none"


@pytest.fixture
def llm_settings(recording: bool) -> LLMSettings:
    """Aimed at the server that recorded the cassettes; a dummy key on replay."""
    if recording:
        target = {"base_url": os.environ["OPENAI_BASE_URL"],
                  "model": os.environ.get("TRIAGE_LLM__MODEL", "local-qwen2.5-1.5b"),
                  "structured_output": os.environ.get("TRIAGE_LLM__STRUCTURED_OUTPUT", "json_object")}
        CASSETTES.mkdir(exist_ok=True)
        RECORDED_WITH.write_text(json.dumps(target, indent=1) + "\n")
    target = json.loads(RECORDED_WITH.read_text())
    return LLMSettings(
        backend="openai", model=target["model"], base_url=target["base_url"],
        api_key=os.environ.get("OPENAI_API_KEY", "local") if recording else DUMMY_KEY,
        structured_output=target["structured_output"],
        timeout_s=1800.0 if recording else 30.0,  # a small CPU model takes minutes on a long prompt
        max_retries=2,
    )


class FrozenRetriever:
    """The SOP passages recorded with the cassettes, by (categories, channel)."""

    def __init__(self, path: Path) -> None:
        self.table = {self.key(e["categories"], e["channel"]): [SopPassage.model_validate(p) for p in e["passages"]]
                      for e in json.loads(path.read_text())}

    @staticmethod
    def key(categories: Sequence[str], channel: str | None) -> str:
        return f"{','.join(categories)}|{channel}"

    def __call__(self, categories: Sequence[str], channel: str | None) -> list[SopPassage]:
        key = self.key(categories, channel)
        if key not in self.table:
            raise KeyError(f"no frozen SOP passages for {key!r}: re-record (see this module's docstring)")
        return self.table[key]


class RecordingRetriever:
    """The real retriever; every answer kept to be frozen beside the cassettes."""

    def __init__(self, real: SopRetriever) -> None:
        self.real = real
        self.seen: dict[str, dict[str, Any]] = {}

    def __call__(self, categories: Sequence[str], channel: str | None) -> list[SopPassage]:
        passages = self.real(categories, channel)
        self.seen[FrozenRetriever.key(categories, channel)] = {
            "categories": list(categories), "channel": channel, "passages": [p.model_dump() for p in passages]}
        return passages

    def freeze(self, path: Path) -> None:
        path.write_text(json.dumps([self.seen[k] for k in sorted(self.seen)], indent=1, ensure_ascii=False) + "\n")


@pytest.mark.vcr
@pytest.mark.block_network
def test_the_openai_backend_runs_the_eval(llm_settings: LLMSettings, recording: bool, vcr: Any,
                                          eval_index_settings: Settings, tmp_path: Path) -> None:
    """Same runner, same graph, same scoring as the offline backend; the cost figures come from
    the server's token counts (the local model has no price in the table: the run says so)."""
    settings = eval_index_settings.model_copy(update={"llm": llm_settings})
    retriever: Any = RecordingRetriever(sop_retriever(settings)) if recording else FrozenRetriever(PASSAGES)
    run = run_eval(CASES, backend="openai", settings=settings, retriever=retriever, concurrency=1)
    if recording:
        retriever.freeze(PASSAGES)

    m = run.metrics
    assert (run.identity.backend, run.identity.model) == ("openai", llm_settings.model)
    assert run.identity.prompt_version.startswith("openai-")
    assert m.cases == 4
    assert all(r.predicted.category is not None for r in run.results), [r.predicted.route_reasons for r in run.results]
    assert m.llm_calls_per_case is not None and m.llm_calls_per_case >= 2  # classify and draft at least
    assert m.input_tokens > 0 and m.output_tokens > 0
    assert m.dollars is None and m.unpriced_models == [llm_settings.model]
    injected = next(r for r in run.results if r.case_id.endswith("CN-2026-10-0059"))
    assert injected.predicted.route == "human"  # outside text that instructs always reaches a person
    folder = save_run(run, tmp_path)
    assert "openai" in (folder / "report.md").read_text()
    if not recording:
        assert vcr.all_played, "a recorded interaction was not requested: prompts or cases changed since recording"
