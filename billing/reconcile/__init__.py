"""Reconciliation: set-based rules that compare sources and raise exceptions stating the difference."""
