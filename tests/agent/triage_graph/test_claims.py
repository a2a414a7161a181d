"""Batches share the open exceptions through leases (`agent.claims`): none is triaged twice,
a dead worker's cases go back to the others, a finished batch holds nothing."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from agent.claims import Claims
from agent.review_queue import ReviewError
from billing.db import session_factory
from billing.models import Discrepancy, ReviewItem, TriageRun, utcnow
from billing.settings import ClaimSettings, Settings
from tests.agent.triage_graph.conftest import TriageFactory
from tests.agent.triage_graph.fakes import FakeBackend, add_exception

LEASE = timedelta(minutes=10)


def _claims(engine: Engine, worker: str, lease: timedelta = LEASE) -> Claims:
    return Claims(engine, worker, lease)


def _holders(engine: Engine) -> dict[int, str | None]:
    with session_factory(engine)() as session:
        return dict(session.execute(select(Discrepancy.id, Discrepancy.claimed_by)).tuples().all())


def test_two_workers_take_different_exceptions_oldest_first(engine: Engine) -> None:
    ids = [add_exception(engine, n=n) for n in range(5)]
    add_exception(engine, n=99, status="triaged")  # not open: never claimed
    a, b = _claims(engine, "a"), _claims(engine, "b")
    assert a.take(2) == ids[:2]
    assert b.take(10) == ids[2:]
    assert a.take(10) == [] and b.take(10) == []
    assert [w for _, w in sorted(_holders(engine).items())] == ["a", "a", "b", "b", "b", None]


def test_a_lapsed_lease_goes_to_another_worker_and_a_released_claim_at_once(engine: Engine) -> None:
    ids = [add_exception(engine, n=n) for n in range(3)]
    dead = _claims(engine, "dead", lease=timedelta(seconds=-1))  # its lease has already run out
    assert dead.take(1) == ids[:1]
    assert _claims(engine, "other").take(1) == ids[:1]  # taken over, still oldest first
    quitter = _claims(engine, "quitter")
    assert quitter.take(1) == ids[1:2]
    quitter.release([ids[1]])
    assert _claims(engine, "next").take(10) == ids[1:]  # the released one and the free one


def test_renewal_keeps_only_this_workers_open_claims(engine: Engine) -> None:
    ids = [add_exception(engine, n=n) for n in range(2)]
    mine = _claims(engine, "mine", lease=timedelta(seconds=-1))
    assert mine.take(1) == ids[:1]
    assert _claims(engine, "other").take(1) == ids[:1]  # lapsed: taken over
    mine.renew(ids)  # must not take it back
    assert _holders(engine)[ids[0]] == "other"
    keeper = _claims(engine, "keeper")
    assert keeper.take(1) == ids[1:]
    with session_factory(engine)() as session:
        session.execute(update(Discrepancy).where(Discrepancy.id == ids[1])
                        .values(claim_expires_at=utcnow() + timedelta(seconds=5)))
        session.commit()
    keeper.renew(ids[1:])
    with session_factory(engine)() as session:
        assert session.get(Discrepancy, ids[1]).claim_expires_at > utcnow() + timedelta(minutes=9)


def test_workers_taking_at_the_same_moment_never_share_an_exception(engine: Engine) -> None:
    """On PostgreSQL the takes pass each other's locked rows by (SKIP LOCKED); SQLite runs
    one writing statement at a time."""
    ids = {add_exception(engine, n=n) for n in range(60)}
    taken: dict[str, list[int]] = {}
    start = threading.Barrier(4)

    def work(name: str) -> None:
        claims, got = _claims(engine, name), []
        start.wait()
        while chunk := claims.take(3):
            got += chunk
        taken[name] = got

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for got in taken.values() for i in got]
    assert sorted(every) == sorted(ids)  # each exactly once
    assert {name: holder for name, holder in Counter(_holders(engine).values()).items()} == {
        name: len(got) for name, got in taken.items() if got}


def _small_claims(settings: Settings) -> Settings:
    return settings.model_copy(update={"claims": ClaimSettings(size=2)})


def test_batches_running_at_once_triage_each_exception_once(engine: Engine, make_triage: TriageFactory,
                                                           settings: Settings, backend: FakeBackend) -> None:
    ids = [add_exception(engine, n=n, expected="20000" if n % 4 == 0 else "1000") for n in range(16)]
    runners = [make_triage(settings=_small_claims(settings)) for _ in range(3)]
    summaries = []
    start = threading.Barrier(len(runners))

    def run(triage: object) -> None:
        start.wait()
        summaries.append(triage.batch(progress=False, concurrency=1))  # type: ignore[attr-defined]

    threads = [threading.Thread(target=run, args=(t,)) for t in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(s.cases for s in summaries) == len(ids) and not any(s.failed for s in summaries)
    assert Counter(c.split(":")[1] for c in backend.calls if c.startswith("classify")) == Counter(
        {str(i): 1 for i in ids})
    with session_factory(engine)() as session:
        runs = Counter(session.scalars(select(TriageRun.exception_id)))
        items = Counter(session.scalars(select(ReviewItem.exception_id)))
        held = session.scalar(select(func.count()).where(Discrepancy.claimed_by.is_not(None)))
    assert runs == Counter({i: 1 for i in ids})
    assert items == Counter({i: 1 for i in ids[::4]})
    assert held == 0  # every batch gave back what it held


def test_a_batch_gives_back_the_case_that_failed(engine: Engine, make_triage: TriageFactory,
                                                 settings: Settings) -> None:
    from tests.agent.triage_graph.test_batch import _failing_on

    ids = [add_exception(engine, n=n) for n in range(5)]
    summary = make_triage(settings=_small_claims(settings), run_tools=_failing_on({ids[1]})).batch(progress=False)
    assert summary.cases == 5 and [e for e, _ in summary.failed] == [ids[1]]  # tried once, not again
    assert _holders(engine)[ids[1]] is None  # free for the next batch at once
    assert make_triage().batch(progress=False).cases == 1


def test_a_limited_batch_claims_no_more_than_its_limit(engine: Engine, make_triage: TriageFactory,
                                                       settings: Settings) -> None:
    ids = [add_exception(engine, n=n) for n in range(7)]
    assert make_triage(settings=_small_claims(settings)).batch(limit=3, progress=False).cases == 3
    assert _claims(engine, "next").take(10) == ids[3:]


def test_one_case_is_refused_while_a_batch_holds_it(engine: Engine, make_triage: TriageFactory) -> None:
    exception_id = add_exception(engine)
    _claims(engine, "host/123/b-night").take(1)
    with pytest.raises(ReviewError, match=r"being triaged by batch host/123/b-night \(claimed until"):
        make_triage().case(exception_id)


def test_a_batch_whose_claims_cannot_be_released_still_reports_its_cases(
        engine: Engine, make_triage: TriageFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The database went away at the very end: the claims lapse with their lease instead."""
    ids = [add_exception(engine, n=n) for n in range(2)]

    def gone(self: Claims, ids: object) -> None:
        raise ConnectionError("database went away")

    monkeypatch.setattr(Claims, "release", gone)
    with pytest.warns(RuntimeWarning, match="claims could not be released, they lapse in 600 s"):
        summary = make_triage().batch(progress=False)
    assert summary.cases == len(ids) and summary.failed == []
