"""Notifications through the outbox (`agent.notifications`): written with what they announce,
posted with retries, never sent twice by two deliverers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
import typer
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from agent.notifications import announce_batch, deliver_due
from agent.runner import Triage, open_triage
from api import context
from api.commands import triage as triage_cmd
from billing.db import session_factory
from billing.models import Notification, ReviewItem, utcnow
from billing.settings import NotificationSettings, Settings
from tests.agent.triage_graph.conftest import TriageFactory
from tests.agent.triage_graph.fakes import FakeBackend, FakeRetriever, add_exception, fake_tools

HOOKS = ["https://hooks.example/ops", "https://hooks.example/finance"]


@pytest.fixture
def hooked(settings: Settings) -> Settings:
    return settings.model_copy(update={"notifications": NotificationSettings(webhook_urls=HOOKS)})


def _notices(engine: Engine) -> list[Notification]:
    with session_factory(engine)() as session:
        return list(session.scalars(select(Notification).order_by(Notification.id)))


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def _answer(status: int, headers: dict[str, str] | None = None) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, headers=headers, text="ok" if status < 300 else "no")


def test_a_case_waiting_alone_is_announced_to_every_webhook_with_its_item(
        engine: Engine, make_triage: TriageFactory, hooked: Settings) -> None:
    exception_id = add_exception(engine, expected="50000", observed="0")  # material: a person decides
    outcome = make_triage(settings=hooked).case(exception_id)
    assert outcome.status == "waiting_review"
    notices = _notices(engine)
    assert [n.url for n in notices] == HOOKS and {n.kind for n in notices} == {"review_waiting"}
    text = notices[0].payload["text"]
    assert text.startswith(f"Exception {exception_id} waits for review: ")
    assert "USD 50,000.00 at stake" in text and "materiality" in text
    assert all(n.exception_id == exception_id and n.status == "pending" for n in notices)


def test_no_webhook_no_notice(engine: Engine, make_triage: TriageFactory) -> None:
    make_triage().case(add_exception(engine, expected="50000", observed="0"))
    assert _notices(engine) == []


def test_a_batch_is_announced_once_with_its_waiting_cases_largest_first(
        engine: Engine, make_triage: TriageFactory, hooked: Settings) -> None:
    small = add_exception(engine, n=1, expected="20000", observed="0")
    large = add_exception(engine, n=2, expected="90000", observed="0")
    add_exception(engine, n=3)  # proposed automatically
    summary = make_triage(settings=hooked).batch(progress=False)
    assert _notices(engine) == []  # not one message per case
    stored = announce_batch(engine, hooked.notifications, batch_id=summary.batch_id, batch_ids=[summary.batch_id],
                            cases=summary.cases, by_status=dict(summary.by_status), failed=0)
    notices = _notices(engine)
    assert stored == len(notices) == len(HOOKS) and {n.kind for n in notices} == {"batch_done"}
    text = notices[0].payload["text"]
    assert text.splitlines()[0] == f"Batch {summary.batch_id} triaged 3 exception(s): 2 waiting_review, 1 triaged."
    assert "2 wait for a person (USD 110,000.00 at stake where known), largest first:" in text
    assert text.index(f"exception {large}:") < text.index(f"exception {small}:")
    # Announcing the same batch again stores nothing new; a quiet batch announces nothing.
    announce_batch(engine, hooked.notifications, batch_id=summary.batch_id, batch_ids=[summary.batch_id],
                   cases=3, by_status={}, failed=0)
    assert announce_batch(engine, hooked.notifications, batch_id="b-quiet", batch_ids=["b-quiet"], cases=0,
                          by_status={}, failed=0) == 0
    assert len(_notices(engine)) == len(HOOKS)


def _one_notice(engine: Engine, make_triage: TriageFactory, settings: Settings, **limits: object) -> Settings:
    hooks = NotificationSettings(webhook_urls=HOOKS[:1], **limits)  # type: ignore[arg-type]
    hooked = settings.model_copy(update={"notifications": hooks})
    make_triage(settings=hooked).case(add_exception(engine, expected="50000", observed="0"))
    return hooked


def test_delivery_posts_the_text_and_marks_it_delivered(engine: Engine, make_triage: TriageFactory,
                                                       settings: Settings) -> None:
    hooked = _one_notice(engine, make_triage, settings)
    posted: list[httpx.Request] = []

    def ok(request: httpx.Request) -> httpx.Response:
        posted.append(request)
        return httpx.Response(200, text="ok")

    report = deliver_due(engine, hooked.notifications, client=_client(ok))
    [notice] = _notices(engine)
    assert report.delivered == [notice.id] and notice.status == "delivered" and notice.attempts == 1
    assert notice.delivered_at is not None and notice.last_error is None
    assert [str(r.url) for r in posted] == HOOKS[:1]
    assert json.loads(posted[0].content) == {"text": notice.payload["text"]}
    assert deliver_due(engine, hooked.notifications, client=_client(ok)).delivered == []  # sent once


def test_a_server_error_is_retried_later_with_backoff_then_fails(engine: Engine, make_triage: TriageFactory,
                                                                 settings: Settings) -> None:
    hooked = _one_notice(engine, make_triage, settings, max_attempts=3, retry_after_s=30)
    down, t0 = _client(_answer(503)), utcnow()
    first = deliver_due(engine, hooked.notifications, client=down, now=t0)
    [notice] = _notices(engine)
    assert first.retrying == [notice.id] and notice.attempts == 1 and notice.last_error.startswith("HTTP 503")
    assert notice.next_attempt_at == t0 + timedelta(seconds=30)
    assert deliver_due(engine, hooked.notifications, client=down, now=t0 + timedelta(seconds=29)).retrying == []
    t1 = t0 + timedelta(seconds=30)  # due
    assert deliver_due(engine, hooked.notifications, client=down, now=t1).retrying == [notice.id]
    [notice] = _notices(engine)
    assert notice.next_attempt_at == t1 + timedelta(seconds=60)  # twice as long
    last = deliver_due(engine, hooked.notifications, client=down, now=t1 + timedelta(seconds=60))
    [notice] = _notices(engine)
    assert last.failed == [notice.id] and notice.status == "failed" and notice.attempts == 3


def test_a_429_waits_as_asked_and_a_refused_connection_is_retried(engine: Engine, make_triage: TriageFactory,
                                                                  settings: Settings) -> None:
    hooked = _one_notice(engine, make_triage, settings)
    t0 = utcnow()
    deliver_due(engine, hooked.notifications, client=_client(_answer(429, {"Retry-After": "120"})), now=t0)
    [notice] = _notices(engine)
    assert notice.next_attempt_at == t0 + timedelta(seconds=120)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    report = deliver_due(engine, hooked.notifications, client=_client(refused), now=t0 + timedelta(seconds=120))
    [notice] = _notices(engine)
    assert report.retrying == [notice.id] and notice.last_error == "ConnectError: connection refused"


def test_a_wrong_url_fails_at_once(engine: Engine, make_triage: TriageFactory, settings: Settings) -> None:
    hooked = _one_notice(engine, make_triage, settings)
    report = deliver_due(engine, hooked.notifications, client=_client(_answer(404)))
    [notice] = _notices(engine)
    assert report.failed == [notice.id] and notice.status == "failed" and notice.last_error == "HTTP 404: no"


def test_two_deliverers_at_once_send_a_notice_once(engine: Engine, make_triage: TriageFactory,
                                                   settings: Settings) -> None:
    hooked = _one_notice(engine, make_triage, settings)
    sent: list[str] = []

    def second_deliverer_meanwhile(request: httpx.Request) -> httpx.Response:
        sent.append("first")
        # While the first is posting, another deliverer finds the notice taken.
        assert deliver_due(engine, hooked.notifications, client=_client(_answer(200))).delivered == []
        return httpx.Response(200)

    assert len(deliver_due(engine, hooked.notifications, client=_client(second_deliverer_meanwhile)).delivered) == 1
    assert sent == ["first"]


def test_the_batch_command_announces_and_delivers(engine: Engine, hooked: Settings, backend: FakeBackend,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    add_exception(engine, n=1, expected="50000", observed="0")
    add_exception(engine, n=2)

    @contextmanager
    def opener() -> Iterator[Triage]:
        with open_triage(hooked, engine=engine, backend=backend, retriever=FakeRetriever(), run_tools=fake_tools) as t:
            yield t

    posted: list[dict[str, str]] = []

    def hook(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(200)

    real_client = httpx.Client
    monkeypatch.setattr("agent.notifications.httpx.Client", lambda **kw: real_client(transport=httpx.MockTransport(hook)))
    monkeypatch.setattr(triage_cmd, "opener", opener)
    monkeypatch.setattr(context, "engine", lambda: engine)
    monkeypatch.setattr(context, "settings", lambda: hooked)
    app = typer.Typer()
    triage_cmd.register(app)
    result = CliRunner().invoke(app, ["batch", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["notifications"] == {"delivered": 2, "retrying": 0, "failed": 0}
    assert len(posted) == 2 and all(p["text"].startswith(f"Batch {summary['batch_id']} triaged 2") for p in posted)
    with session_factory(engine)() as session:
        assert session.scalar(select(ReviewItem.amount_usd)) == Decimal("50000.00")
    assert CliRunner().invoke(app, ["notify", "--json"]).output.strip() == json.dumps(
        {"delivered": 0, "retrying": 0, "failed": 0})


def test_notify_without_a_webhook_says_how_to_set_one(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setattr(context, "settings", lambda: settings)
    app = typer.Typer()
    triage_cmd.register(app)
    result = CliRunner().invoke(app, ["notify"])
    assert result.exit_code == 1 and "TRIAGE_NOTIFICATIONS__WEBHOOK_URLS" in result.output


def test_a_dead_webhook_costs_one_timeout_per_round(engine: Engine, make_triage: TriageFactory,
                                                   settings: Settings) -> None:
    hooked = _one_notice(engine, make_triage, settings)
    make_triage(settings=hooked).case(add_exception(engine, n=7, expected="60000", observed="0"))
    tries: list[str] = []

    def blackholed(request: httpx.Request) -> httpx.Response:
        tries.append(str(request.url))
        raise httpx.ConnectTimeout("timed out", request=request)

    report = deliver_due(engine, hooked.notifications, client=_client(blackholed))
    assert len(tries) == 1 and len(report.retrying) == 2
    untried = [n for n in _notices(engine) if n.attempts == 0]
    assert len(untried) == 1 and untried[0].next_attempt_at > utcnow()  # waits for the next round
