"""Build the curated eval set: expand every hand-written spec of `specs/` into a bundle `<id>.json`.

    .venv/bin/python -m evals.cases.curated.build            # (re)write every bundle
    .venv/bin/python -m evals.cases.curated.build --check    # exit 1 if a committed bundle is stale
    .venv/bin/python -m evals.cases.curated.build --only c07-dropped-weekend-stall

The content of each case (the story, the numbers, the messages, the labels) is in its spec;
this script only derives the records from it and lets the real rule raise the exception.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from billing.bundles import bundle_json, write_bundle
from evals.cases.curated.builder import build_all, load_specs
from evals.cases.curated.builder.readme import update_readme

HERE = Path(__file__).resolve().parent
SPECS = HERE / "specs"


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) the bundle of every spec; returns the exit code."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed files, write nothing"
    )
    parser.add_argument(
        "--only", action="append", default=[], help="build only this case id (repeatable)"
    )
    args = parser.parse_args(argv)
    specs = load_specs(SPECS)
    if args.only:
        specs = [s for s in specs if s.id in set(args.only)]
    stale: list[str] = []
    built = build_all(specs)
    for spec, bundle in built:
        target = HERE / f"{spec.id}.json"
        if args.check:
            if not target.exists() or target.read_text(encoding="utf-8") != bundle_json(bundle):
                stale.append(target.name)
        else:
            write_bundle(bundle, target)
    known = {f"{s.id}.json" for s in specs}
    orphans = sorted(p for p in HERE.glob("c*.json") if p.name not in known)
    if not args.only:
        if args.check:
            stale += [f"{p.name} (no spec)" for p in orphans]
        else:
            for orphan in orphans:
                orphan.unlink()  # a case whose spec was removed
        if not update_readme(HERE / "README.md", built, check=args.check):
            stale.append("README.md")
    if stale:
        print(
            "stale bundles (run python -m evals.cases.curated.build):",
            ", ".join(stale),
            file=sys.stderr,
        )
        return 1
    print(f"{len(specs)} case(s) {'checked' if args.check else 'written'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
