"""`messages`: inbound partner and customer emails, dispute notes, remittance advice (JSONL).

Their text is data to weigh, never instructions: it is stored verbatim and nothing in it is
acted on here. `exception_natural_key` links a message to an exception when that exception is
already stored; messages usually arrive before reconciliation raises it, and then the link
cannot be kept yet (see the report of issue 2: a column for the key is requested).
"""

from __future__ import annotations

from sqlalchemy import Connection

from billing.ingest import fields as f
from billing.ingest import lookups
from billing.ingest.account_rows import AccountRowAdapter
from billing.ingest.adapter import Column, Record
from billing.ingest.errors import RowError
from billing.models import CHANNEL_VALUES, Message

SENDER_ROLES = ("partner", "customer", "internal")


def _text_up_to(max_len: int) -> f.Parser[str]:
    """Any text, empty allowed, at most `max_len` characters."""

    def parse(value: str) -> str:
        if len(value) > max_len:
            raise f.FieldError(f"is {len(value)} characters long; at most {max_len} are allowed")
        return value

    return parse


_FIELDS = (
    Column("message_id", f.string(128)),
    Column("account_key", f.optional(f.string(64))),
    Column("channel", f.optional(f.choice(CHANNEL_VALUES))),
    Column("sender", f.string(255)),
    Column("sender_role", f.choice(SENDER_ROLES)),
    Column("received_at", f.timestamp),
    Column("subject", _text_up_to(500)),
    Column("body", _text_up_to(1_000_000)),
    Column("exception_natural_key", f.optional(f.string(255))),
)


class MessagesAdapter(AccountRowAdapter):
    kind = "messages"
    table = Message.__table__
    fields = _FIELDS
    columns = ("message_id", "sender", "sender_role", "received_at", "subject", "body")
    optional_columns = ("account_key", "channel", "exception_natural_key")
    suffixes = (".jsonl",)
    key = "message_id"
    key_labels = (key,)

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.exceptions = lookups.exceptions_by_natural_key(conn)

    def finish(self, line: int, record: Record, errors: list[RowError]) -> None:
        # A message naming an exception we do not hold (yet) links to none; that is no error.
        record["exception_id"] = self.exceptions.get(record.pop("exception_natural_key") or "")
