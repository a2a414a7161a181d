"""LLM backends behind one interface: `offline` (deterministic, always available) and `openai`."""
