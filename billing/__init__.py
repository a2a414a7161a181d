"""The billing domain: data model, money, ingest adapters, reconciliation rules, scenarios."""
