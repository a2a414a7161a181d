"""No scoring on what the offline backend learned from: the run fails on any overlap.

The offline backend's case library is built from scenarios with reserved seeds
(`agent.llm.offline.library.LIBRARY_SEEDS`; each shipped library case also names its seed in
its `source`, ``generated:<seed>``). A generated set states its seeds in its manifest; a set
built from one of those seeds, or a manifest that does not describe the cases beside it (so its
seeds prove nothing), would measure memory, not reasoning.
"""

from __future__ import annotations

from collections.abc import Iterable

from evals.case_set import CaseSet


class LeakageError(ValueError):
    """The case set overlaps what the offline backend was built from."""


def library_seeds() -> tuple[int, ...]:
    """The seeds reserved for the offline backend's case library."""
    from agent.llm.offline.library import LIBRARY_SEEDS

    return LIBRARY_SEEDS


def shipped_library_seeds() -> set[int]:
    """The seeds the shipped library cases say they came from (``source = generated:<seed>``)."""
    from agent.llm.offline.library import LIBRARY_DIR, read_cases

    seeds = set()
    for case in read_cases(LIBRARY_DIR / "generated.jsonl"):
        kind, _, seed = case.source.partition(":")
        if kind == "generated" and seed.isdigit():
            seeds.add(int(seed))
    return seeds


def check_no_leakage(case_set: CaseSet, *, reserved_seeds: Iterable[int] | None = None) -> None:
    """Raise `LeakageError` when the set was built from a seed of the library (declared in
    `LIBRARY_SEEDS` or found in the shipped cases), or its manifest does not match its cases."""
    reserved = set(reserved_seeds) if reserved_seeds is not None else set(library_seeds()) | shipped_library_seeds()
    problems: list[str] = []
    manifest = case_set.manifest
    if manifest is not None:
        shared = sorted(reserved & set(manifest.seeds))
        if shared:
            problems.append(f"{case_set.path}: manifest seeds {shared} built the offline backend's case library "
                            f"(reserved: {sorted(reserved)}); rebuild the set with other seeds")
        if manifest.case_set_hash != case_set.hash:
            problems.append(f"{case_set.path}: the manifest describes case set {manifest.case_set_hash[:12]}, but "
                            f"the cases here hash to {case_set.hash[:12]}; rebuild with evals/build_generated.py")
    if problems:
        raise LeakageError("\n".join(problems))
