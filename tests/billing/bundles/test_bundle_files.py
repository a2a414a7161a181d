"""Reading bundle files (one JSON file, a folder of *.json, JSONL) and importing them all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from billing.bundles import (
    BundleError,
    BundleFileErrors,
    bundle_filename,
    bundle_json,
    collect_bundle,
    export_cases,
    import_cases,
    read_bundles,
    read_sourced_bundles,
    write_bundle,
)
from billing.db import transaction
from billing.models import Discrepancy
from tests.tools.case_world import World, wipe


def _export(engine: Engine, folder: Path) -> list[Path]:
    return export_cases(engine, folder, period="2026-10").files


def test_export_writes_one_file_per_open_exception_of_the_period(engine: Engine, world: World, tmp_path: Path) -> None:
    files = _export(engine, tmp_path / "cases")
    assert len(files) == 3  # ACME's two October cases and GLOBEX's; the September one is closed
    names = {json.loads(f.read_text())["exception"]["natural_key"] for f in files}
    with transaction(engine) as session:
        assert names == set(session.scalars(select(Discrepancy.natural_key).where(
            Discrepancy.period == "2026-10", Discrepancy.status == "open")))
    assert export_cases(engine, tmp_path / "all", status=None).files.__len__() == 4


def test_a_file_a_folder_and_jsonl_read_the_same_bundles(engine: Engine, world: World, tmp_path: Path) -> None:
    files = _export(engine, tmp_path / "cases")
    jsonl = tmp_path / "cases.jsonl"
    jsonl.write_text("".join(json.dumps(json.loads(f.read_text())) + "\n\n" for f in sorted(files)))
    from_folder = read_bundles(tmp_path / "cases")
    assert read_bundles(jsonl) == from_folder
    assert read_bundles(min(files)) == from_folder[:1]
    assert [where for where, _ in read_sourced_bundles(jsonl)] == [f"{jsonl}:1", f"{jsonl}:3", f"{jsonl}:5"]


def test_every_problem_is_reported_with_file_line_and_json_path(engine: Engine, world: World, tmp_path: Path) -> None:
    files = sorted(_export(engine, tmp_path / "cases"))
    good = json.loads(files[0].read_text())
    bad = json.loads(files[1].read_text())
    bad["exception"]["expected_amount"] = 12.5
    bad["contracts"][0]["currency"] = "XYZ"
    jsonl = tmp_path / "mixed.jsonl"
    jsonl.write_text("\n".join([json.dumps(good), json.dumps(bad), "{oops", json.dumps(good | {"schema_version": "2.0"})]))
    with pytest.raises(BundleFileErrors) as caught:
        read_bundles(jsonl)
    found = {(e.where, e.path) for e in caught.value.errors}
    assert found == {(f"{jsonl}:2", "$.exception.expected_amount"), (f"{jsonl}:2", "$.contracts[0].currency"),
                     (f"{jsonl}:3", "$"), (f"{jsonl}:4", "$.schema_version")}
    text = str(caught.value)
    assert f"{jsonl}:2: $.exception.expected_amount: Value error, 12.5 is a float" in text
    assert "unknown currency 'XYZ'" in text and "major version 2" in text


def test_import_is_all_or_nothing(engine: Engine, world: World, tmp_path: Path) -> None:
    files = sorted(_export(engine, tmp_path / "cases"))
    wipe(engine)
    broken = json.loads(files[-1].read_text())
    broken["contracts"][0]["product_code"] = "no-such-product"
    files[-1].write_text(json.dumps(broken))
    with pytest.raises(BundleError) as caught:
        import_cases(engine, tmp_path / "cases")
    assert (caught.value.where, caught.value.path) == (str(files[-1]), "$.contracts[0].product_code")
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(Discrepancy)) == 0  # the good ones rolled back too


def test_write_bundle_names_files_by_natural_key_and_writes_whole_files(engine: Engine, world: World,
                                                                        tmp_path: Path) -> None:
    with transaction(engine) as session:
        bundle = collect_bundle(session, world.case_id)
    path = write_bundle(bundle, tmp_path / bundle_filename(bundle))
    assert path.name.startswith("usage_vs_partner_usage_usage_shortfall_2026-10") and path.suffix == ".json"
    assert path.read_text() == bundle_json(bundle) and not list(tmp_path.glob("*.partial"))
