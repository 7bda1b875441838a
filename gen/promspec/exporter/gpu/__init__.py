"""The NVIDIA GPU side of the exporter: NVML boundary, sampling, background work and the collector."""
