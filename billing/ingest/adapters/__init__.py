"""One module per input format; each exposes an adapter class registered in `billing.ingest.registry`."""
