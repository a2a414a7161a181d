"""Notifications to Slack-style incoming webhooks, through an outbox.

A notification is a row of `notifications`, one per configured webhook URL. A case that waits
for a person outside a batch has its notice written in the same transaction as its review item
(`agent.review_queue.store_reviews`): a notice exists exactly when its news was stored. A batch
gets one notice when it ends, with its counts and the cases waiting for a person, largest
amount first. One message per case would flood a channel on the night of month-end.

`deliver_due` posts the notices that are due, as ``{"text": ...}`` JSON (what Slack's incoming
webhooks take), and records each answer:

- a 2xx marks the notice delivered;
- a 429, a 5xx, a timeout or a connection error schedules another attempt. The first retry
  waits `retry_after_s`, each next one twice as long (at most an hour), or what a 429's
  ``Retry-After`` asks. After `max_attempts` the notice is failed;
- any other status fails it at once (a wrong URL does not get better).

A webhook that times out or refuses the connection is not tried again in the same round: its
other notices wait for the next one, so a dead webhook costs one timeout, not one per notice.

Delivery claims the notices it sends (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one writing
statement on SQLite), so two deliverers running at once do not send the same notice twice. A
deliverer that dies between the POST and its record sends the notice again once its claim
lapses: at least once, never lost.

The texts carry ids, categories, amounts and reasons, never a draft's body. Outside text and
drafts stay in the review queue, where a person reads them in context.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.orm import Session

from agent.claims import claim_statement
from agent.upserts import insert_missing
from billing.models import Notification, NotificationStatus, ReviewItem, ReviewStatus, TriageRun, utcnow
from billing.settings import NotificationSettings

#: Cases a batch notice lists by name (the rest are counted).
LISTED = 10
#: How long a deliverer holds the notices it is sending before another may take them.
_SENDING = timedelta(minutes=5)
_MAX_WAIT = timedelta(hours=1)
_T = Notification.__table__


def _rows(settings: NotificationSettings, *, event_key: str, kind: str, text: str,
          exception_id: int | None = None) -> list[dict[str, Any]]:
    now = utcnow()
    return [{"event_key": event_key, "url": url, "kind": kind, "exception_id": exception_id,
             "payload": {"text": text}, "status": NotificationStatus.PENDING.value, "attempts": 0,
             "next_attempt_at": now, "created_at": now} for url in settings.webhook_urls]


def _usd(amount: Decimal | None) -> str:
    return "USD at stake unknown" if amount is None else f"USD {amount:,.2f} at stake"


def review_notices(settings: NotificationSettings, *, thread_id: str, round: int, exception_id: int,
                   item: dict[str, Any]) -> list[dict[str, Any]]:
    """The notices of one case that waits for a person (`item`: its review item's values)."""
    reasons = "; ".join(str(r) for r in item.get("reasons") or []) or "no reason recorded"
    text = (f"Exception {exception_id} waits for review: {item.get('category') or 'unclassified'}, "
            f"{_usd(item.get('amount_usd'))}. Why: {reasons}. `triage review list` shows it.")
    return _rows(settings, event_key=f"review:{thread_id}:{round}", kind="review_waiting", text=text,
                 exception_id=exception_id)


def batch_notices(session: Session, settings: NotificationSettings, *, batch_id: str, batch_ids: Sequence[str],
                  cases: int, by_status: dict[str, int], failed: int) -> list[dict[str, Any]]:
    """The notices of a finished batch (`batch_ids`: its processes' batches), with the cases it
    left waiting for a person, largest amount first."""
    waiting = session.execute(
        select(ReviewItem.exception_id, ReviewItem.category, ReviewItem.amount_usd, ReviewItem.reasons)
        .join(TriageRun, TriageRun.thread_id == ReviewItem.thread_id)
        .where(TriageRun.batch_id.in_(list(batch_ids)), ReviewItem.status == ReviewStatus.PENDING)
    ).all()
    waiting.sort(key=lambda w: (w.amount_usd is None, -(w.amount_usd or 0), w.exception_id))
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items(), key=lambda kv: -kv[1])) or "nothing"
    lines = [f"Batch {batch_id} triaged {cases} exception(s): {statuses}."]
    if failed:
        lines.append(f"{failed} failed and stay open for the next batch.")
    if waiting:
        total = sum((w.amount_usd for w in waiting if w.amount_usd is not None), Decimal(0))
        lines.append(f"{len(waiting)} wait for a person (USD {total:,.2f} at stake where known), largest first:")
        for w in waiting[:LISTED]:
            reasons = "; ".join(str(r) for r in w.reasons or [])
            lines.append(f"• exception {w.exception_id}: {w.category or 'unclassified'}, {_usd(w.amount_usd)}"
                         f"{' (' + reasons + ')' if reasons else ''}")
        if len(waiting) > LISTED:
            lines.append(f"… and {len(waiting) - LISTED} more: `triage review list`.")
    return _rows(settings, event_key=f"batch:{batch_id}", kind="batch_done", text="\n".join(lines))


def announce_batch(engine: Engine, settings: NotificationSettings, *, batch_id: str, batch_ids: Sequence[str],
                   cases: int, by_status: dict[str, int], failed: int) -> int:
    """Store a finished batch's notices (none when no webhook is configured or the batch found
    nothing to do: a quiet night sends nothing); returns how many were stored."""
    if not settings.webhook_urls or not cases:
        return 0
    with Session(engine) as session, session.begin():
        rows = batch_notices(session, settings, batch_id=batch_id, batch_ids=batch_ids, cases=cases,
                             by_status=by_status, failed=failed)
        store_notices(session, rows)
    return len(rows)


def store_notices(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    """Add notices in `session`'s transaction; one already stored (same event, same URL) stays."""
    insert_missing(session, _T, list(rows), keys=("event_key", "url"))


@dataclass
class DeliveryReport:
    """What one `deliver_due` did, by notice id."""

    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


_CLAIM = claim_statement(
    _T, select(_T.c.id).where(_T.c.status == NotificationStatus.PENDING.value, _T.c.next_attempt_at <= bindparam("now"))
    .order_by(_T.c.next_attempt_at, _T.c.id).limit(bindparam("n")),
    {"next_attempt_at": bindparam("until")}, [_T.c.id, _T.c.url, _T.c.payload, _T.c.attempts])


def deliver_due(engine: Engine, settings: NotificationSettings, *, client: httpx.Client | None = None,
                limit: int = 100, now: datetime | None = None) -> DeliveryReport:
    """Post up to `limit` notices due at `now` (default: the current time) and record each
    answer; a retry is scheduled from `now` (see the module doc)."""
    now = now or utcnow()
    with engine.begin() as connection:  # the claim first in its transaction (see `claim_statement`)
        due = connection.execute(_CLAIM, {"now": now, "n": limit, "until": now + _SENDING}).all()
    report = DeliveryReport()
    if not due:
        return report
    own = client is None
    client = client or httpx.Client(timeout=settings.timeout_s)
    unreachable: set[str] = set()
    try:
        for notice_id, url, payload, attempts in sorted(due):
            if url in unreachable:
                # Its webhook just timed out or refused: left for the claim's hold (`_SENDING`)
                # instead of a timeout each, so a dead webhook cannot stall the batch that ends.
                report.retrying.append(notice_id)
                continue
            outcome, detail, wait = _post(client, url, payload)
            if outcome == "unreachable":
                unreachable.add(url)
            values: dict[str, Any] = {"attempts": attempts + 1, "last_error": detail}
            if outcome == "delivered":
                values |= {"status": NotificationStatus.DELIVERED.value, "delivered_at": utcnow(), "last_error": None}
                report.delivered.append(notice_id)
            elif outcome in ("retry", "unreachable") and attempts + 1 < settings.max_attempts:
                backoff = timedelta(seconds=settings.retry_after_s * 2 ** attempts)
                values["next_attempt_at"] = now + min(_MAX_WAIT, wait if wait is not None else backoff)
                report.retrying.append(notice_id)
            else:
                values["status"] = NotificationStatus.FAILED.value
                report.failed.append(notice_id)
            with engine.begin() as connection:
                connection.execute(update(_T).where(_T.c.id == notice_id).values(values))
    finally:
        if own:
            client.close()
    return report


def _post(client: httpx.Client, url: str, payload: dict[str, Any]) -> tuple[str, str | None, timedelta | None]:
    """("delivered" | "retry" | "unreachable" | "failed", what went wrong, how long the server
    asked to wait). "unreachable": no answer at all (a timeout, a refused connection)."""
    try:
        response = client.post(url, json=payload)
    except httpx.HTTPError as exc:  # timeouts, refused connections, broken responses: try again later
        return "unreachable", f"{type(exc).__name__}: {exc}", None
    if response.is_success:
        return "delivered", None, None
    detail = f"HTTP {response.status_code}: {response.text[:200]}"
    if response.status_code == 429 or response.status_code >= 500:
        asked = response.headers.get("Retry-After", "")
        return "retry", detail, timedelta(seconds=int(asked)) if asked.isdigit() else None
    return "failed", detail, None
