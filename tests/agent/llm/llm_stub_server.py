"""A tiny OpenAI-compatible stub for the two answers a real local server never gives.

Started by the recording run only (see `conftest.py`); replay never touches it. Routes:

- `/rate-limit-once/v1/chat/completions`: the first request with a given body gets a 429
  (`retry-after-ms: 50`, so the SDK's retry is quick); the retry is forwarded unchanged to
  the real server given by `upstream` and its answer relayed. The 429 is the stub's, the
  answer is the real model's.
- `/refuse/v1/chat/completions`: a Chat Completions reply carrying `message.refusal`, the
  shape OpenAI uses when a model declines a structured-output request. Written by the stub,
  labelled `"system_fingerprint": "stub-refusal"`.
- `/malformed-once/v1/chat/completions`: a first request (no assistant turn yet) gets the
  kind of reply small models give without a grammar (prose around JSON, a made-up category,
  a word for a number), written by the stub and labelled `"system_fingerprint":
  "stub-malformed"`; the repair request (it carries that reply and the validation errors) is
  forwarded to the real server and its answer relayed.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

REFUSAL = "I'm sorry, but I can't help with that request."
#: Marks the stub's own forward to the real server, which the cassette must not record (replay has no stub).
FORWARD_HEADER = "x-stub-forward"
MALFORMED = 'Sure! Here is the classification:\n{"category": "metering_gap", "confidence": "high", "action": "resend"}'


def stub_completion(model: str, *, label: str, content: str | None = None,
                    refusal: str | None = None) -> dict[str, Any]:
    """A Chat Completions body written by the stub; `system_fingerprint` says which stub answer it is."""
    return {
        "id": f"chatcmpl-{label}",
        "object": "chat.completion",
        "created": 1764000000,
        "model": model,
        "system_fingerprint": label,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": content, "refusal": refusal}}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


class StubServer:
    """Serves the routes above on 127.0.0.1:`port` in a background thread."""

    def __init__(self, port: int, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.seen: set[str] = set()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = json.loads(body)
                model = request.get("model", "stub")
                if self.path.startswith("/refuse/"):
                    return self._json(200, stub_completion(model, label="stub-refusal", refusal=REFUSAL))
                if self.path.startswith("/malformed-once/"):
                    if not any(m.get("role") == "assistant" for m in request.get("messages", [])):
                        return self._json(200, stub_completion(model, label="stub-malformed", content=MALFORMED))
                    return self._forward(body, "/malformed-once/v1")
                if self.path.startswith("/rate-limit-once/"):
                    digest = hashlib.sha256(body).hexdigest()
                    if digest not in stub.seen:
                        stub.seen.add(digest)
                        error = {"error": {"message": "Rate limit reached (stub)", "type": "rate_limit_error",
                                           "code": "rate_limit_exceeded"}}
                        return self._json(429, error, {"retry-after-ms": "50"})
                    return self._forward(body, "/rate-limit-once/v1")
                return self._reply(404, b'{"error":{"message":"unknown stub route"}}')

            def _forward(self, body: bytes, prefix: str) -> None:
                """Relay the request to the real server, unchanged, and its answer back."""
                url = stub.upstream + self.path.removeprefix(prefix)
                forward = urllib.request.Request(url, data=body, method="POST",
                                                 headers={"content-type": "application/json", FORWARD_HEADER: "1"})
                with urllib.request.urlopen(forward, timeout=3600) as response:
                    self._reply(response.status, response.read())

            def _json(self, status: int, value: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                self._reply(status, json.dumps(value).encode(), headers)

            def _reply(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
