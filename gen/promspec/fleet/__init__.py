"""A GPU fleet across clusters: kind Topology -> per-cluster Prometheus configs and rules, global ruler files."""
