"""Fault injectors (one small function per category), the schemes that combine them, the plan."""
