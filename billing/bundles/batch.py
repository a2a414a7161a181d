"""Many bundles at once: export the exceptions of a period/status to a folder, import a path.

Import is all or nothing: every document is validated first, then every bundle is loaded in
one transaction; an error anywhere rolls everything back and names the file and JSON path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select

from billing.bundles.collect import collect_bundle
from billing.bundles.io import (
    BundleError,
    BundleFileErrors,
    bundle_filename,
    read_sourced_bundles,
    write_bundle,
)
from billing.bundles.labels import ExpectedLabels
from billing.bundles.load import load_bundle
from billing.bundles.upsert import BundleLoadError
from billing.db import transaction
from billing.models import Discrepancy


@dataclass
class ExportReport:
    """What an export wrote."""

    files: list[Path] = field(default_factory=list)
    labelled: int = 0


def export_cases(engine: Engine, out: str | Path, *, period: str | None = None, status: str | None = "open",
                 labels: Mapping[int, ExpectedLabels] | None = None) -> ExportReport:
    """Write one bundle file per exception (of `period` and `status`, when given) into folder `out`.

    `labels` maps exception ids to expected labels to attach (e.g. from a generator's ground truth)."""
    report = ExportReport()
    folder = Path(out)
    with transaction(engine) as session:
        query = select(Discrepancy.id).order_by(Discrepancy.period, Discrepancy.natural_key)
        if period is not None:
            query = query.where(Discrepancy.period == period)
        if status is not None:
            query = query.where(Discrepancy.status == status)
        for exception_id in session.scalars(query).all():
            expected = (labels or {}).get(exception_id)
            bundle = collect_bundle(session, exception_id, expected=expected)
            report.files.append(write_bundle(bundle, folder / bundle_filename(bundle)))
            report.labelled += expected is not None
    return report


def import_cases(engine: Engine, path: str | Path) -> list[int]:
    """Load every bundle at `path` (file, folder of *.json, or JSONL) in one transaction; return the exception ids.

    Raises `BundleFileErrors` (every invalid document, nothing loaded) or `BundleError` naming
    the file and JSON path of a bundle that contradicts the database (nothing loaded)."""
    sourced = read_sourced_bundles(path)  # every document validated first, all problems reported at once
    ids: list[int] = []
    with transaction(engine) as session:
        for where, bundle in sourced:
            try:
                ids.append(load_bundle(session, bundle))
            except BundleLoadError as exc:
                raise BundleError(where, exc.path, exc.message) from exc
    return ids


__all__ = ["BundleFileErrors", "ExportReport", "export_cases", "import_cases"]
