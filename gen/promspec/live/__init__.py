"""Live operations: Alertmanager silences, a local stack, SLO status and data export."""
