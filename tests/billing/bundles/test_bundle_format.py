"""The bundle format: generated JSON Schema, versions, exact decimals, vocabularies, the documented example."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
from sqlalchemy import Engine

from agent.schemas import Action, Category, EscalateTo
from billing import taxonomy
from billing.bundles import BundleFileErrors, CaseBundle, collect_bundle, load_bundle, parse_bundle
from billing.bundles.json_schema import SCHEMA_PATH, bundle_json_schema, main, schema_text
from billing.bundles.labels import ActionLabel, CategoryLabel, EscalateLabel
from billing.bundles.types import ChannelName
from billing.db import transaction
from billing.models import CHANNEL_VALUES
from tests.tools.case_world import World

DOC = Path(__file__).resolve().parents[3] / "docs" / "formats" / "case-bundle.md"


def _doc_example() -> dict[str, Any]:
    block = re.search(r"```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert block, "docs/formats/case-bundle.md has no ```json example"
    return json.loads(block.group(1))


def test_committed_json_schema_is_the_generated_one() -> None:
    """Regenerate with `python -m billing.bundles.json_schema` after changing a model."""
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text()
    assert main(["--check"]) == 0


def test_exported_bundles_satisfy_the_json_schema(engine: Engine, world: World) -> None:
    validator = jsonschema.Draft202012Validator(bundle_json_schema())
    with transaction(engine) as session:
        for case in (world.case_id, world.money_case_id):
            document = collect_bundle(session, case).model_dump(mode="json")
            assert list(validator.iter_errors(document)) == []
    broken = dict(document, surprise=1)
    assert list(validator.iter_errors(broken))  # closed objects: the schema can fail


def test_the_documented_example_is_a_valid_bundle_that_loads(engine: Engine) -> None:
    example = _doc_example()
    jsonschema.Draft202012Validator(bundle_json_schema()).validate(example)
    bundle = parse_bundle(example, str(DOC))
    with transaction(engine) as session:
        exception_id = load_bundle(session, bundle)
    with transaction(engine) as session:
        again = collect_bundle(session, exception_id)
    assert again.exception == bundle.exception and again.partner_usage == bundle.partner_usage


@pytest.mark.parametrize(("version", "accepted"), [("1.0", True), ("1.7", True), ("2.0", False), ("0.9", False),
                                                   ("1", False), (1.0, False)])
def test_only_the_known_major_version_is_read(version: object, accepted: bool) -> None:
    document = _doc_example() | {"schema_version": version}
    if accepted:
        assert parse_bundle(document, "x.json").schema_version == version
        return
    with pytest.raises(BundleFileErrors) as caught:
        parse_bundle(document, "x.json")
    (error,) = caught.value.errors
    assert (error.where, error.path) == ("x.json", "$.schema_version")
    assert "1.x" in error.message or "MAJOR.MINOR" in error.message


def test_amounts_are_exact_decimal_strings() -> None:
    """Money is Decimal, never float (DESIGN.md): a JSON number with a fraction is refused, with its path."""
    document = _doc_example()
    document["partner_usage"][0]["usage_quantity"] = 60.5
    document["contracts"][0]["rates"][0]["unit_price"] = "2e-3"
    with pytest.raises(BundleFileErrors) as caught:
        parse_bundle(document, "cases/acme.json")
    problems = {e.path: e.message for e in caught.value.errors}
    assert set(problems) == {"$.partner_usage[0].usage_quantity", "$.contracts[0].rates[0].unit_price"}
    assert "float" in problems["$.partner_usage[0].usage_quantity"]
    bundle = parse_bundle(_doc_example(), "ok.json")
    assert bundle.model_dump(mode="json")["contracts"][0]["total_contract_value"] == "250000"


def test_timestamps_need_a_time_zone_and_are_written_in_utc() -> None:
    document = _doc_example()
    document["messages"][0]["received_at"] = "2026-11-03T10:00:00+01:00"
    assert parse_bundle(document, "x").model_dump(mode="json")["messages"][0]["received_at"] == "2026-11-03T09:00:00Z"
    document["messages"][0]["received_at"] = "2026-11-03T09:00:00"
    with pytest.raises(BundleFileErrors, match=r"\$\.messages\[0\]\.received_at"):
        parse_bundle(document, "x")


def test_a_derived_id_that_does_not_match_its_key_is_refused() -> None:
    document = _doc_example()
    document["usage"]["daily"][0]["id"] = "usage-day:something-else"
    with pytest.raises(BundleFileErrors, match=r"\$\.usage\.daily\[0\]"):
        parse_bundle(document, "x")
    del document["usage"]["daily"][0]["id"]
    assert parse_bundle(document, "x").usage.daily[0].id.startswith("usage-day:")


def test_label_and_channel_vocabularies_agree_with_the_agent_and_the_generator() -> None:
    assert set(get_args(CategoryLabel)) == {c.value for c in Category} == set(taxonomy.CATEGORIES)
    assert set(get_args(ActionLabel)) == {a.value for a in Action} == set(taxonomy.ACTIONS)
    assert set(get_args(EscalateLabel)) == {e.value for e in EscalateTo} == set(taxonomy.ESCALATE_TO)
    assert list(get_args(ChannelName)) == CHANNEL_VALUES


def test_case_bundle_model_is_closed_everywhere() -> None:
    schema = CaseBundle.model_json_schema()
    objects = [schema, *schema["$defs"].values()]
    assert all(o.get("additionalProperties") is False for o in objects if o.get("type") == "object")
