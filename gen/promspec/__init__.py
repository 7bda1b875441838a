"""promspec: monitoring-as-code for LLM serving fleets."""

__version__ = "0.1.0"
