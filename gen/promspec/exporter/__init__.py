"""promspec-exporter: GPU (NVML) and host metrics for Prometheus, one small daemon per GPU host."""

__version__ = "0.1.0"

# 19400: outside the fully allocated 9100-9999 exporter range, next to nothing well known,
# below the Linux ephemeral port range; "1" + dcgm-exporter's 9400 makes it easy to recall.
DEFAULT_PORT = 19400
