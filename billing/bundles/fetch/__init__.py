"""The queries behind case bundles and evidence tools, one module per family of records.

Each function takes the session, the case's `CaseScope` and narrowing arguments, runs a
fixed number of set-based queries and returns bundle records in a deterministic order.
The bundle (`billing.bundles.collect`) and the agent's tools (`tools/`) both build on them.
"""
