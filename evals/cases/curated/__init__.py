"""The curated eval set: hand-written case bundles (specs in `specs/`, bundles `*.json` beside this file)."""
