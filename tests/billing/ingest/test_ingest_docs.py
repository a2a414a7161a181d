"""Every format has its page in docs/formats/, and the page names every column the code reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from billing.ingest import KINDS
from billing.ingest.adapters.contracts_schema import SECTIONS
from billing.ingest.registry import ROW_ADAPTERS

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_has_a_page_naming_all_its_columns(kind: str) -> None:
    page = (DOCS / "formats" / f"{kind}.md").read_text(encoding="utf-8")
    if kind == "contracts":
        names = {name for model in SECTIONS.values() for name in model.model_fields}
    else:
        adapter = ROW_ADAPTERS[kind]
        names = set(adapter.columns + adapter.optional_columns)
    missing = sorted(n for n in names if f"`{n}`" not in page and f"`UsageRecord.{n}`" not in page)
    assert not missing, f"docs/formats/{kind}.md does not mention {missing}"
    for section in ("## Example", "## Errors it reports"):
        assert section in page


def test_the_overview_lists_every_kind() -> None:
    overview = (DOCS / "formats.md").read_text(encoding="utf-8")
    assert [k for k in KINDS if f"| `{k}` |" not in overview] == []
