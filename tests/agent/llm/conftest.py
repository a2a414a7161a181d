"""Cassettes for the `openai` backend and the chat (pytest-recording + vcrpy).

Replay (the default, record mode `none`) never touches the network: the cassette tests are
marked `block_network`, and a dummy key is used. Recording is an explicit command against a
real OpenAI-compatible server (docs/llm-backends.md):

    OPENAI_BASE_URL=http://127.0.0.1:8011/v1 OPENAI_API_KEY=local TRIAGE_LLM__MODEL=local-qwen2.5-1.5b \\
    TRIAGE_LLM__STRUCTURED_OUTPUT=json_object .venv/bin/pytest tests/agent/llm --record-mode=rewrite

Recording writes `tests/cassettes/llm_recorded_with.json` (server, model, dialect), which
replay reads back, so requests match the cassettes whichever server recorded them. The
stub server for the 429 and the refusal starts only while recording.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llm_stub_server import FORWARD_HEADER, StubServer

from agent.llm.base import CaseInput
from billing.settings import LLMSettings

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"
RECORDED_WITH = CASSETTES / "llm_recorded_with.json"
FIXTURES = Path(__file__).with_name("fixtures")
STUB_PORT = 8012
DUMMY_KEY = "sk-replay-dummy-key"
_SECRET_HEADERS = ("authorization", "api-key", "x-api-key", "openai-organization", "openai-project", "cookie")


def _scrub_request(request: Any) -> Any:
    """Never store credentials, nor the SDK's machine fingerprint headers (noise in a diff).

    The stub's own forward to the real server runs in this process, so vcrpy sees it too; it is
    not recorded (returning None drops it): on replay there is no stub to make it.
    """
    if any(name.lower() == FORWARD_HEADER for name in request.headers):
        return None
    for name in list(request.headers):
        if name.lower() in _SECRET_HEADERS or name.lower().startswith("x-stainless"):
            del request.headers[name]
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    response["headers"] = {k: v for k, v in response["headers"].items() if k.lower() != "set-cookie"}
    return response


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": list(_SECRET_HEADERS),
        "filter_query_parameters": ["api-key", "key"],
        "before_record_request": _scrub_request,
        "before_record_response": _scrub_response,
        # Every LLM call posts to the same path: only the body tells two calls apart.
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
        # No `record_mode` here: it would override `--record-mode`; pytest-recording's default is `none`.
        "decode_compressed_response": True,
    }


@pytest.fixture
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """`tests/cassettes/<test module>/<test>.yaml`."""
    return str(CASSETTES / request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture
def recording(record_mode: str) -> bool:
    return record_mode != "none"


def _recorded_with() -> dict[str, str]:
    return json.loads(RECORDED_WITH.read_text())


@pytest.fixture(scope="session")
def recording_target(request: pytest.FixtureRequest) -> dict[str, str]:
    """The server the cassettes were (or are being) recorded against."""
    if request.config.getoption("--record-mode") in (None, "none"):
        return _recorded_with()
    target = {
        "base_url": os.environ["OPENAI_BASE_URL"],
        "model": os.environ.get("TRIAGE_LLM__MODEL", "local-qwen2.5-1.5b"),
        "structured_output": os.environ.get("TRIAGE_LLM__STRUCTURED_OUTPUT", "json_object"),
        "stub_port": str(STUB_PORT),
    }
    CASSETTES.mkdir(exist_ok=True)
    RECORDED_WITH.write_text(json.dumps(target, indent=1) + "\n")
    return target


@pytest.fixture
def llm_settings(recording: bool, recording_target: dict[str, str]) -> LLMSettings:
    """Settings aimed at the recorded server; a dummy key on replay, the real one when recording."""
    return LLMSettings(
        model=recording_target["model"],
        base_url=recording_target["base_url"],
        api_key=os.environ.get("OPENAI_API_KEY", "local") if recording else DUMMY_KEY,
        structured_output=recording_target["structured_output"],  # type: ignore[arg-type]
        # A small CPU model takes minutes per answer; a timed-out request would keep the server
        # busy while the SDK's retry queues behind it.
        timeout_s=1800.0 if recording else 30.0,
        max_retries=2,
    )


@pytest.fixture(scope="session")
def stub_server(request: pytest.FixtureRequest, recording_target: dict[str, str]) -> Iterator[str]:
    """Base of the stub's routes: started only when recording (replay serves from cassettes)."""
    base = f"http://127.0.0.1:{recording_target['stub_port']}"
    if request.config.getoption("--record-mode") in (None, "none"):
        yield base
        return
    with StubServer(int(recording_target["stub_port"]), recording_target["base_url"]):
        yield base


@pytest.fixture(scope="session")
def cases() -> dict[str, CaseInput]:
    """The five routine cases of `fixtures/cases.json`, by their category."""
    loaded = [CaseInput.model_validate(c) for c in json.loads((FIXTURES / "cases.json").read_text())]
    names = ["dropped_metering", "listing_fee_mismatch", "short_payment", "forgiven_charge", "timing_difference"]
    return dict(zip(names, loaded, strict=True))
