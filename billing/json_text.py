"""JSON text of records: compact, UTF-8, Decimals and dates as their `str()`, made by orjson.

Evidence bundles are dumped several times per case (the text verify searches and the audit
hash, the offline signals, the audit payload stored in a JSON column). The standard library's
encoder was the largest single cost of a batch; orjson makes the same text several times
faster. "The same text": `dumps(x) == json.dumps(x, ensure_ascii=False, default=str,
separators=(",", ":"))` for the values records hold (dicts with string or integer keys,
lists, strings, integers, booleans, None, Decimals, dates and datetimes, finite floats) —
`tests/billing/test_json_text.py` checks it on a real scenario's evidence, so hashes taken
before and after the switch agree.
"""

from __future__ import annotations

from typing import Any

import orjson

# Dates and datetimes go through `default=str` like the standard encoder's callers do
# ("2026-03-01 00:00:00+00:00", not orjson's ISO "T" form), and so do dataclasses; integer keys
# become strings.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS


def dumps_bytes(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON bytes (see the module doc for the exact form)."""
    return orjson.dumps(value, default=str, option=_OPTIONS)


def dumps(value: Any) -> str:
    """`value` as compact JSON text (see the module doc for the exact form)."""
    return orjson.dumps(value, default=str, option=_OPTIONS).decode()
