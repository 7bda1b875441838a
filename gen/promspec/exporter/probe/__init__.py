"""Synthetic probes run by the exporter in the background (the LLM streaming probe)."""
