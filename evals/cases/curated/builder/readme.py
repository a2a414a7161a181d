"""The README's table of cases, written from the specs and their bundles (so it never drifts)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from billing.bundles import CaseBundle
from evals.cases.curated.builder.spec import CaseSpec

START, END = "<!-- cases:start -->", "<!-- cases:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def cases_table(built: list[tuple[CaseSpec, CaseBundle]]) -> str:
    """The Markdown between the README's markers: counts, then one row per case."""
    labels = [spec.expected for spec, _ in built]
    categories = Counter(label.category for label in labels)
    routes = Counter(label.route for label in labels)
    lines = [
        f"{len(built)} cases: {routes['auto']} auto, {routes['human']} to a person. "
        f"Per category: " + ", ".join(f"{c} {n}" for c, n in sorted(categories.items())) + ".",
        "",
        "| id | category (second) | route | action → escalate to | channel | currency | source | what makes it hard |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for spec, bundle in sorted(built, key=lambda pair: pair[0].id):
        e, x = spec.expected, bundle.exception
        category = e.category + (f" ({e.second_category})" if e.second_category else "")
        source = "reconciled" if spec.reconciled else "imported"
        lines.append(
            f"| `{spec.id}` | {category} | {e.route} | {e.action} → {e.escalate_to} | {x.channel} | "
            f"{x.currency or '-'} | {source} | {_cell(spec.hard)} |"
        )
    return "\n".join(lines)


def with_table(readme: str, table: str) -> str:
    """`readme` with the text between the markers replaced by `table`."""
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"


def update_readme(path: Path, built: list[tuple[CaseSpec, CaseBundle]], *, check: bool) -> bool:
    """Write the table into the README (or with `check`, say whether it is current); True when current."""
    current = path.read_text(encoding="utf-8")
    wanted = with_table(current, cases_table(built))
    if check:
        return wanted == current
    path.write_text(wanted, encoding="utf-8")
    return True
