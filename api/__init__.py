"""Surfaces: the CLI, the FastAPI service, webhooks, chat and the web page."""
