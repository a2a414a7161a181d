"""One evidence bundle per case: the exception as plain JSON, the tool results, the outside text.

`gather_case` is what the graph's `gather` node calls. The tool results come from
`tools.gather_evidence` (the read-only tools room), once per case; the exception row is read
here. Message texts (the `get_messages` tool) are moved out of the tool results into the
outside text, where the guard reads them and prompts fence them as untrusted data. All of it
is JSON-safe (Decimals and dates as strings): it sits in the graph state and is hashed for
the audit trail.
"""

from __future__ import annotations

import hashlib
import importlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session

from agent.llm.base import OutsideText
from agent.sessions import sessions
from billing import json_text
from billing.models import Discrepancy, Message

EXCEPTION_FIELDS = (
    "id", "rule", "kind", "status", "account_id", "channel", "period", "product_code", "dimension_key",
    "currency", "expected_amount", "observed_amount", "delta_amount", "expected_quantity",
    "observed_quantity", "delta_quantity", "record_refs", "details", "description", "source",
)


class CaseNotFound(LookupError):
    """No exception with that id."""


class GatheredCase(BaseModel):
    """What `gather` hands the graph: plain JSON only."""

    exception: dict[str, Any]
    evidence: dict[str, Any]
    outside_text: list[OutsideText]


#: (engine, exception id) -> tool name -> tool result (JSON). Injected in tests.
ToolRunner = Callable[[Engine, int], dict[str, Any]]
#: The tool whose result holds outside text; its texts move to `outside_text` (see `split_messages`).
MESSAGES_TOOL = "get_messages"


def plain(value: Any) -> Any:
    """A JSON-safe copy: Decimals as exact strings, dates as ISO, models dumped."""
    if isinstance(value, BaseModel):
        return plain(value.model_dump(mode="json"))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


_EXCEPTION_COLUMNS = [Discrepancy.__table__.c[name] for name in EXCEPTION_FIELDS]
# Built once: a statement object per case costs more than running it.
_READ_EXCEPTION = select(*_EXCEPTION_COLUMNS).where(Discrepancy.__table__.c.id == bindparam("exception_id"))
_READ_MESSAGES = (
    select(Message.message_id, Message.sender_role, Message.subject, Message.body)
    .where(Message.exception_id == bindparam("exception_id")).order_by(Message.received_at, Message.id)
)
#: JSON columns come back JSON-safe already; only these need converting.
_SCALAR_FIELDS = frozenset(EXCEPTION_FIELDS) - {"record_refs", "details"}


def exception_dict(row: Discrepancy) -> dict[str, Any]:
    """The exception's fields a backend may use, as plain JSON."""
    return {name: plain(getattr(row, name)) for name in EXCEPTION_FIELDS}


def read_exception(session: Session, exception_id: int) -> dict[str, Any]:
    """The exception's fields as plain JSON (one Core select: no ORM object per case)."""
    row = session.connection().execute(_READ_EXCEPTION, {"exception_id": exception_id}).first()
    if row is None:
        raise CaseNotFound(f"exception {exception_id} does not exist")
    return {name: plain(value) if name in _SCALAR_FIELDS else value for name, value in zip(EXCEPTION_FIELDS, row)}


def outside_text_of(session: Session, exception_id: int) -> list[OutsideText]:
    """The messages linked to the exception, oldest first, as data (never instructions)."""
    rows = session.connection().execute(_READ_MESSAGES, {"exception_id": exception_id})
    return [OutsideText(message_id=m, sender_role=role, subject=subject or "", body=body) for m, role, subject, body in rows]


def tools_runner(engine: Engine, exception_id: int) -> dict[str, Any]:
    """Run the read-only tools the case's rule calls for, once, in a read-only session."""
    tools = importlib.import_module("tools")
    with tools.read_only_session(engine) as session:
        return dict(tools.gather_evidence(tools.ToolContext.for_exception(session, exception_id)))


class BatchTools:
    """The tools for a batch. The cases are read ahead a chunk at a time, set-based — the
    exceptions, their accounts and messages, a month of usage per account, one query per table
    for the chunk (`tools.prefetch`) — and each worker thread reuses one read-only session for
    up to `cases_per_session` cases (opening a session per case costs more than some tools do).

    `plan(ids)` gives the batch's order; a case's chunk is read when its first case is asked
    for, with a fresh `EvidenceCache`, so what cases share is one view of the data per chunk.
    Within a chunk the account history a tool shows may not include cases triaged moments
    before, which a batch does not need. A case not planned is gathered as `tools_runner` does."""

    def __init__(self, cases_per_session: int = 500, chunk_size: int = 500) -> None:
        self.cases_per_session = cases_per_session
        self.chunk_size = chunk_size
        self._local = threading.local()
        self._open: list[ExitStack] = []
        self._lock = threading.Lock()
        self._chunk_of: dict[int, int] = {}
        self._chunks: list[list[int]] = []
        self._ahead: dict[int, Any] = {}  # chunk number -> tools.prefetch.ReadAhead

    def plan(self, exception_ids: list[int]) -> None:
        """The cases of the batch, in the order they will (mostly) be asked for."""
        with self._lock:
            self._chunks = [exception_ids[i:i + self.chunk_size] for i in range(0, len(exception_ids), self.chunk_size)]
            self._chunk_of = {e: n for n, chunk in enumerate(self._chunks) for e in chunk}
            self._ahead = {}

    def _read_ahead(self, engine: Engine, exception_id: int) -> Any:
        number = self._chunk_of.get(exception_id)
        if number is None:
            return None
        with self._lock:
            ahead = self._ahead.get(number)
            if ahead is None:
                tools = importlib.import_module("tools")
                prefetch = importlib.import_module("tools.prefetch")
                with tools.read_only_session(engine) as session:
                    ahead = prefetch.read_ahead(session, self._chunks[number], shared=tools.EvidenceCache(
                        max_entries=8 * self.chunk_size))
                # Earlier chunks are done (threads may still finish a few of their cases: keep one).
                self._ahead = {n: a for n, a in self._ahead.items() if n >= number - 1}
                self._ahead[number] = ahead
        return ahead

    def exception_ahead(self, engine: Engine, exception_id: int) -> dict[str, Any] | None:
        """The exception's fields as `read_exception` gives them, if its chunk was read ahead."""
        ahead = self._read_ahead(engine, exception_id)
        loaded = ahead.rows.get(exception_id) if ahead is not None else None
        if loaded is None:
            return None
        row = loaded[0]
        return {name: plain(getattr(row, name)) if name in _SCALAR_FIELDS else getattr(row, name)
                for name in EXCEPTION_FIELDS}

    def __call__(self, engine: Engine, exception_id: int) -> dict[str, Any]:
        tools = importlib.import_module("tools")
        local = self._local
        if getattr(local, "session", None) is None or local.used >= self.cases_per_session:
            self._close_thread_session()
            stack = ExitStack()
            local.session, local.stack, local.used = stack.enter_context(tools.read_only_session(engine)), stack, 0
            local.shared = tools.EvidenceCache(max_entries=8 * self.cases_per_session)
            with self._lock:
                self._open.append(stack)
        local.used += 1
        ahead = self._read_ahead(engine, exception_id)
        ctx = ahead.context(local.session, exception_id) if ahead is not None else None
        if ctx is None:
            ctx = tools.ToolContext.for_exception(local.session, exception_id, shared=local.shared)
        return dict(tools.gather_evidence(ctx))

    def _close_thread_session(self) -> None:
        stack = getattr(self._local, "stack", None)
        if stack is not None:
            with self._lock:
                if stack in self._open:
                    self._open.remove(stack)
            stack.close()
            self._local.session = self._local.stack = None

    def close(self) -> None:
        """Close every session the batch opened."""
        with self._lock:
            stacks, self._open = self._open, []
            self._ahead = {}
        for stack in stacks:
            stack.close()


def split_messages(evidence: dict[str, Any]) -> tuple[dict[str, Any], list[OutsideText]]:
    """Move message texts out of the tool results into outside text.

    A prompt shows outside text fenced and labelled as untrusted data, and the guard reads it;
    left inside the evidence, the same words would reach a model as if they were records. The
    evidence keeps each message's id, sender role, date and whether it is attached to the case."""
    result = evidence.get(MESSAGES_TOOL)
    if not isinstance(result, dict) or not isinstance(result.get("messages"), list):
        return evidence, []
    texts: list[OutsideText] = []
    kept: list[dict[str, Any]] = []
    for m in result["messages"]:
        texts.append(OutsideText(message_id=str(m.get("message_id")), sender_role=str(m.get("sender_role", "")),
                                 subject=str(m.get("subject") or ""), body=str(m.get("body") or "")))
        kept.append({k: v for k, v in m.items() if k not in ("subject", "body")})
    return {**evidence, MESSAGES_TOOL: {**result, "messages": kept}}, texts


def gather_case(engine: Engine, exception_id: int, run_tools: ToolRunner = tools_runner) -> GatheredCase:
    """Read the exception, run the tools, and collect the outside text.

    The messages tool returns the messages attached to the exception (and the account's
    around the period); only when the tools do not include it are the attached ones read here.
    Batch tools that read the exception ahead (`BatchTools.exception_ahead`) save its query."""
    read_ahead = getattr(run_tools, "exception_ahead", None)
    exception = read_ahead(engine, exception_id) if read_ahead is not None else None
    if exception is not None:
        # The tools return JSON already (Decimals as strings), so it is used as it is.
        evidence, outside = split_messages(run_tools(engine, exception_id))
        if MESSAGES_TOOL not in evidence:
            with sessions(engine)() as session:
                outside = outside_text_of(session, exception_id)
        return GatheredCase.model_construct(exception=exception, evidence=evidence, outside_text=outside)
    with sessions(engine)() as session:
        exception = read_exception(session, exception_id)
        evidence, outside = split_messages(run_tools(engine, exception_id))
        if MESSAGES_TOOL not in evidence:
            outside = outside_text_of(session, exception_id)
    return GatheredCase.model_construct(exception=exception, evidence=evidence, outside_text=outside)


def evidence_text(case: GatheredCase) -> str:
    """The exception and the tool results as one JSON text: what the verify step searches.

    Key order is the tools' own fixed order, so the text is stable without sorting. Outside
    text is not part of it: a figure a partner wrote is not evidence of itself."""
    return json_text.dumps({"exception": case.exception, "evidence": case.evidence})


def evidence_hash(case: GatheredCase, text: str | None = None) -> str:
    """SHA-256 of everything the case was decided on: the evidence text and the outside text."""
    outside = json_text.dumps([t.model_dump() for t in case.outside_text])
    digest = hashlib.sha256((text if text is not None else evidence_text(case)).encode())
    digest.update(outside.encode())
    return digest.hexdigest()


class TextCache:
    """The evidence texts of the cases in flight, by hash: made once in `gather`, searched in
    `verify`. Bounded; a miss (a case resumed in another process) just rebuilds the text."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._texts: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, digest: str, text: str) -> None:
        with self._lock:
            self._texts[digest] = text
            while len(self._texts) > self._size:
                self._texts.popitem(last=False)

    def get(self, digest: str) -> str | None:
        with self._lock:
            return self._texts.get(digest)


TEXTS = TextCache()
