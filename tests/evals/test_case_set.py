"""Reading case sets (folder, JSON, JSONL, gzip), their hash, refusals, and the leakage check."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from billing.bundles import BundleFileErrors
from evals.case_set import CaseSetError, case_set_hash, load_case_set
from evals.leakage import LeakageError, check_no_leakage
from evals.manifest import CaseSetManifest, ManifestError, write_manifest


def _documents(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def _manifest(seeds: list[int], case_hash: str) -> CaseSetManifest:
    return CaseSetManifest(generator_version="1", seeds=seeds, accounts=20, months=2, start="2026-07",
                           fault_rate=0.5, per_category_cap=16, cases=3, case_set_hash=case_hash,
                           by_category={}, files=["cases.jsonl.gz"])


def test_a_folder_jsonl_and_gzip_jsonl_hold_the_same_set(fixture_cases: Path, tmp_path: Path) -> None:
    """Same cases, same labels → same hash, whatever the file layout and order."""
    docs = _documents(fixture_cases)
    lines = "\n".join(json.dumps(d) for d in reversed(docs)) + "\n"
    (tmp_path / "set.jsonl").write_text(lines)
    (tmp_path / "gz").mkdir()
    (tmp_path / "gz" / "cases.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    folder, jsonl, gz = (load_case_set(p) for p in (fixture_cases, tmp_path / "set.jsonl", tmp_path / "gz"))
    assert len(folder.cases) == 3
    assert folder.hash == jsonl.hash == gz.hash
    assert [c.case_id for c in gz.cases] == sorted(c.case_id for c in gz.cases)
    assert gz.cases[0].source.endswith("cases.jsonl.gz:3")  # line numbers of the compressed file


def test_the_hash_changes_with_a_label(fixture_cases: Path) -> None:
    cases = load_case_set(fixture_cases).cases
    bundles = [c.bundle for c in cases]
    relabelled = [bundles[0].model_copy(update={"expected": bundles[0].expected.model_copy(  # type: ignore[union-attr]
        update={"category": "timing_difference"})}), *bundles[1:]]
    assert case_set_hash(bundles) != case_set_hash(relabelled)


def test_a_folder_ignores_its_manifest_and_other_files(fixture_cases: Path, tmp_path: Path) -> None:
    for doc in _documents(fixture_cases):
        (tmp_path / f"{doc['exception']['rule']}-{doc['exception']['kind']}.json").write_text(json.dumps(doc))
    (tmp_path / "README.md").write_text("not a case")
    (tmp_path / "spec.yaml").write_text("- not: a case")
    write_manifest(tmp_path / "manifest.json", _manifest([7101], load_case_set(fixture_cases).hash))
    loaded = load_case_set(tmp_path)
    assert len(loaded.cases) == 3 and loaded.manifest is not None and loaded.manifest.seeds == [7101]


def test_an_unlabelled_bundle_is_refused_with_its_file(fixture_cases: Path, tmp_path: Path) -> None:
    doc = _documents(fixture_cases)[0]
    doc["expected"] = None
    (tmp_path / "unlabelled.json").write_text(json.dumps(doc))
    with pytest.raises(CaseSetError, match=r"unlabelled\.json: \$\.expected: missing"):
        load_case_set(tmp_path)


def test_the_same_case_twice_is_refused(fixture_cases: Path, tmp_path: Path) -> None:
    doc = _documents(fixture_cases)[0]
    (tmp_path / "a.json").write_text(json.dumps(doc))
    (tmp_path / "b.json").write_text(json.dumps(doc))
    with pytest.raises(CaseSetError, match=r"b\.json: \$\.exception\.natural_key: .* already the case of .*a\.json"):
        load_case_set(tmp_path)


def test_every_bad_document_is_reported_with_file_line_and_path(fixture_cases: Path, tmp_path: Path) -> None:
    good, bad = _documents(fixture_cases)[:2]
    bad["exception"]["delta_amount"] = "12,5"
    text = json.dumps(good) + "\n{not json\n" + json.dumps(bad) + "\n"
    (tmp_path / "cases.jsonl.gz").write_bytes(gzip.compress(text.encode()))
    with pytest.raises(BundleFileErrors) as caught:
        load_case_set(tmp_path)
    messages = [str(e) for e in caught.value.errors]
    assert any("cases.jsonl.gz:2: $: not JSON" in m for m in messages)
    assert any("cases.jsonl.gz:3: $.exception.delta_amount" in m for m in messages)


def test_an_empty_or_missing_set_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CaseSetError, match="no case bundles found"):
        load_case_set(tmp_path)
    with pytest.raises(CaseSetError, match="no such file or folder"):
        load_case_set(tmp_path / "nowhere")


def test_a_malformed_manifest_is_named(fixture_cases: Path, tmp_path: Path) -> None:
    for doc in _documents(fixture_cases):
        (tmp_path / f"{doc['exception']['kind']}.json").write_text(json.dumps(doc))
    (tmp_path / "manifest.json").write_text(json.dumps({"seeds": "many"}))
    with pytest.raises(ManifestError, match=r"manifest\.json: .*seeds"):
        load_case_set(tmp_path)


def test_leakage_a_reserved_seed_or_a_manifest_of_other_cases(fixture_cases: Path, tmp_path: Path) -> None:
    """The offline backend's library seeds may not build an eval set; a manifest whose hash is not
    the cases' proves nothing about their seeds. Both refuse the run."""
    for doc in _documents(fixture_cases):
        (tmp_path / f"{doc['exception']['kind']}.json").write_text(json.dumps(doc))
    real_hash = load_case_set(tmp_path).hash
    write_manifest(tmp_path / "manifest.json", _manifest([7101, 9003], real_hash))
    with pytest.raises(LeakageError, match=r"seeds \[9003\]"):
        check_no_leakage(load_case_set(tmp_path))
    write_manifest(tmp_path / "manifest.json", _manifest([7101], "0" * 64))
    with pytest.raises(LeakageError, match="rebuild with evals/build_generated.py"):
        check_no_leakage(load_case_set(tmp_path))
    write_manifest(tmp_path / "manifest.json", _manifest([7101], real_hash))
    check_no_leakage(load_case_set(tmp_path))  # a clean set passes
    with pytest.raises(LeakageError):
        check_no_leakage(load_case_set(tmp_path), reserved_seeds=[7101])
