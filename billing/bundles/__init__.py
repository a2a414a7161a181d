"""Case bundles: one self-contained JSON document per exception, to export, import and store.

    from billing.bundles import collect_bundle, load_bundle, read_bundles, write_bundle
    bundle = collect_bundle(session, exception_id)       # export (reads only)
    write_bundle(bundle, "cases/acme-usage.json")
    for bundle in read_bundles("cases/"):                # a file, a folder of *.json, or JSONL
        load_bundle(other_session, bundle)               # import: upsert by natural keys

The format is documented in docs/formats/case-bundle.md; its JSON Schema is
`case_bundle.schema.json` beside this file, generated from `schema.py`.
"""

from billing.bundles.balance import BALANCING_PREFIX
from billing.bundles.batch import ExportReport, export_cases, import_cases
from billing.bundles.collect import collect_bundle
from billing.bundles.io import (
    BundleError,
    BundleFileErrors,
    bundle_filename,
    bundle_json,
    iter_bundles,
    parse_bundle,
    read_bundles,
    read_sourced_bundles,
    write_bundle,
)
from billing.bundles.labels import ExpectedLabels
from billing.bundles.load import load_bundle
from billing.bundles.schema import (
    SCHEMA_VERSION,
    BundleVersionError,
    CaseBundle,
    MeteringSection,
    UsageSection,
)
from billing.bundles.scope import CaseScope, ScopeError
from billing.bundles.upsert import BundleLoadError

__all__ = [
    "BALANCING_PREFIX", "SCHEMA_VERSION", "BundleError", "BundleFileErrors", "BundleLoadError",
    "BundleVersionError", "CaseBundle", "CaseScope", "ExpectedLabels", "ExportReport", "MeteringSection", "ScopeError",
    "UsageSection", "bundle_filename", "bundle_json", "collect_bundle", "export_cases", "import_cases",
    "iter_bundles", "load_bundle", "parse_bundle", "read_bundles", "read_sourced_bundles", "write_bundle",
]
