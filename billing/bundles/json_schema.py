"""The JSON Schema of the case bundle, generated from the pydantic models (never written by hand).

Regenerate the committed copy after changing a model:

    .venv/bin/python -m billing.bundles.json_schema          # rewrites case_bundle.schema.json
    .venv/bin/python -m billing.bundles.json_schema --check  # exit 1 if the committed copy is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from billing.bundles.schema import SCHEMA_VERSION, CaseBundle

SCHEMA_PATH = Path(__file__).with_name("case_bundle.schema.json")
SCHEMA_ID = "https://billing-triage.example/schemas/case-bundle/1.json"


def bundle_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) that every bundle this build writes or reads satisfies."""
    schema = CaseBundle.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "description": (f"A case bundle (schema_version {SCHEMA_VERSION}): one exception of billing "
                        "reconciliation and every record needed to triage it. Generated from "
                        "billing/bundles/schema.py; see docs/formats/case-bundle.md."),
        **{k: v for k, v in schema.items() if k != "description"},
    }


def schema_text() -> str:
    """The schema as the committed file holds it (stable key order, trailing newline)."""
    return json.dumps(bundle_json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the schema file, or with ``--check`` report whether the committed one is current."""
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        if current != schema_text():
            print(f"{SCHEMA_PATH} is stale; run: python -m billing.bundles.json_schema", file=sys.stderr)
            return 1
        print(f"{SCHEMA_PATH} is current")
        return 0
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
