"""The `offline` backend: SOP decision steps as code over the evidence, the nearest labelled
cases of the case library, a calibrated confidence, and drafts filled only from evidence."""

from agent.llm.offline.backend import OfflineBackend

__all__ = ["OfflineBackend"]
