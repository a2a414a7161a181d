"""No scoring on what the offline backend learned from: the run fails on any overlap.

The offline backend's case library is built from scenarios with reserved seeds
(`agent.llm.offline.library.LIBRARY_SEEDS`). A generated set states its seeds in its manifest;
a set built from a reserved seed, a manifest that does not describe the cases beside it, or a
case that is itself in the library would measure memory, not reasoning.
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


def library_case_ids() -> set[str]:
    """The ids of the cases shipped in the offline backend's library (none if it is not built)."""
    from agent.llm.offline.library import LIBRARY_DIR, read_cases

    return {c.case_id for c in read_cases(LIBRARY_DIR / "generated.jsonl")}


def check_no_leakage(case_set: CaseSet, *, reserved_seeds: Iterable[int] | None = None,
                     library_ids: set[str] | None = None) -> None:
    """Raise `LeakageError` when the set's seeds, manifest or cases overlap the library."""
    reserved = set(library_seeds() if reserved_seeds is None else reserved_seeds)
    problems: list[str] = []
    manifest = case_set.manifest
    if manifest is not None:
        shared = sorted(reserved & set(manifest.seeds))
        if shared:
            problems.append(f"{case_set.path}: manifest seeds {shared} are reserved for the offline backend's "
                            f"case library (LIBRARY_SEEDS {sorted(reserved)}); rebuild the set with other seeds")
        if manifest.case_set_hash != case_set.hash:
            problems.append(f"{case_set.path}: the manifest describes case set {manifest.case_set_hash[:12]}, but "
                            f"the cases here hash to {case_set.hash[:12]}; rebuild with evals/build_generated.py")
    known = library_case_ids() if library_ids is None else library_ids
    inside = [c.case_id for c in case_set.cases if c.case_id in known]
    if inside:
        problems.append(f"{case_set.path}: {len(inside)} case(s) are in the offline backend's library, e.g. "
                        f"{inside[0]!r}")
    if problems:
        raise LeakageError("\n".join(problems))
