"""The committed generated set: what its manifest promises holds, and its build is deterministic."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import get_args

import pytest

from agent.llm.offline.library import LIBRARY_SEEDS
from billing.bundles import bundle_json
from billing.bundles.labels import CategoryLabel
from evals.build_generated import DEFAULT_OUT, SEEDS, gzip_jsonl, select
from evals.case_set import CaseSet, load_case_set
from evals.leakage import check_no_leakage, shipped_library_seeds


@pytest.fixture(scope="module")
def generated() -> CaseSet:
    return load_case_set(DEFAULT_OUT)


def test_the_set_matches_its_manifest_and_leaks_nothing(generated: CaseSet) -> None:
    """Seeds disjoint from the offline library's (LIBRARY_SEEDS 9001-9008 and those the shipped
    library cases name); the manifest's hash is the cases' hash; counts agree."""
    case_set = generated
    manifest = case_set.manifest
    assert manifest is not None
    assert manifest.seeds == list(SEEDS)
    assert not set(manifest.seeds) & (set(LIBRARY_SEEDS) | shipped_library_seeds())
    assert manifest.case_set_hash == case_set.hash
    assert manifest.cases == len(case_set.cases)
    check_no_leakage(case_set)


def test_the_set_covers_every_category_in_the_size_asked_for(generated: CaseSet) -> None:
    """~150-300 cases, every category of the taxonomy present, none above the per-category cap."""
    case_set = generated
    assert case_set.manifest is not None
    counts: dict[str, int] = {}
    for case in case_set.cases:
        counts[case.expected.category] = counts.get(case.expected.category, 0) + 1
    assert set(counts) == set(get_args(CategoryLabel))
    assert 150 <= len(case_set.cases) <= 300
    assert max(counts.values()) <= case_set.manifest.per_category_cap
    assert counts == case_set.manifest.by_category


def test_selection_and_compression_are_reproducible(generated: CaseSet) -> None:
    """The cap keeps the same cases whatever the input order; the gzip bytes carry no timestamp."""
    bundles = [c.bundle for c in generated.cases][:60]
    forward = select(bundles, cap=2)
    backward = select(list(reversed(bundles)), cap=2)
    assert [b.case_id for b in forward] == [b.case_id for b in backward]
    assert gzip_jsonl(forward) == gzip_jsonl(backward)
    assert gzip.decompress(gzip_jsonl(forward)).count(b"\n") == len(forward)


def test_the_committed_file_is_in_the_builds_own_encoding(generated: CaseSet) -> None:
    """One canonical bundle JSON per line, sorted by case id: what `build_generated.py` writes."""
    path = Path(DEFAULT_OUT) / "cases.jsonl.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert lines == [bundle_json(c.bundle, indent=None) for c in generated.cases]
