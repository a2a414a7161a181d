"""Reconciliation rule tests; a package so the shared factories import as `.factories`."""
