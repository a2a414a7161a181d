"""The triage agent: graph, state, nodes, LLM backends, prompts, guards, routing policy."""
