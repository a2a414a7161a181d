"""Shared pieces of the case spec: the closed base model, the error, and how hours and days are written.

Hours are written ``2026-10-14T02`` and ranges ``2026-10-14T02..2026-10-14T06`` (both ends
included); days ``2026-10-01`` and ``2026-10-01..2026-10-14``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, field_validator


class SpecError(ValueError):
    """A spec file that cannot be built: names the file, the case and the field."""


class Spec(BaseModel):
    """Every spec object is closed: a misspelt field is an error."""

    model_config = ConfigDict(extra="forbid")


def parse_hour(text: str) -> datetime:
    """``2026-10-14T02`` (or a full ISO timestamp) as an aware UTC datetime at the hour."""
    value = text.strip()
    if len(value) == 13:
        value += ":00"
    moment = datetime.fromisoformat(value)  # Python 3.11 reads a trailing Z
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def parse_hours(text: str) -> list[datetime]:
    """``A..B`` (both ends included) or a single hour, as the list of hours."""
    if ".." not in text:
        return [parse_hour(text)]
    start, end = (parse_hour(part) for part in text.split("..", 1))
    if end < start:
        raise ValueError(f"hour range {text!r} ends before it starts")
    return [
        start + timedelta(hours=n) for n in range(int((end - start).total_seconds() // 3600) + 1)
    ]


def parse_days(text: str) -> list[date]:
    """``2026-10-01..2026-10-14`` (both ends included) or a single day."""
    if ".." not in text:
        return [date.fromisoformat(text.strip())]
    start, end = (date.fromisoformat(part.strip()) for part in text.split("..", 1))
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


class HoursField(Spec):
    """Base for specs naming hours; checks the range parses."""

    hours: str

    @field_validator("hours")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse_hours(value)
        return value
