"""`CaseLibrary.nearest`: a repeated feature text is embedded and ranked once."""

from __future__ import annotations

from agent.llm.offline.library import CaseLibrary, LibraryCase


def test_a_repeated_text_is_answered_from_memory_with_the_same_neighbours() -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> list[list[float]]:
        calls.append(texts)
        return [[1.0, 0.0] if "price" in t else [0.0, 1.0] for t in texts]

    cases = [LibraryCase(f"c{i}", text, cat, "a", "none", "generated:9001")
             for i, (text, cat) in enumerate([("rule price", "price_mismatch"), ("rule usage", "metering_gap")])]
    library = CaseLibrary(cases, embed)
    first = library.nearest("rule price x", k=1)
    again = library.nearest("rule price x", k=1)
    other = library.nearest("rule usage y", k=2)
    assert [n.case.case_id for n in first] == ["c0"] and again == first and again is not first
    assert [n.case.case_id for n in other] == ["c1", "c0"]
    assert len(calls) == 3  # the library, then one query each
