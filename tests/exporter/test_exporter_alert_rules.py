"""The bundled rules page when the GPU driver is unloaded: promtool runs the committed rules/gpu.yml."""

import subprocess

import pytest
import yaml

from .exporter_harness import REPO, needs

pytestmark = [pytest.mark.slow, needs("promtool")]

HOST = {"instance": "gpu-1:19400", "job": "promspec-exporter"}


def _series(name: str, values: str, **labels) -> dict:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted({**HOST, **labels}.items()))
    return {"series": f"{name}{{{inner}}}", "values": values}


def _fires(alert: str, at: str, labels: dict | None) -> dict:
    samples = (
        []
        if labels is None
        else [
            {
                "labels": "ALERTS{"
                + ",".join(
                    f'{k}="{v}"' for k, v in sorted({"alertname": alert, "alertstate": "firing", **labels}.items())
                )
                + "}",
                "value": 1,
            }
        ]
    )
    return {"expr": f'ALERTS{{alertname="{alert}",alertstate="firing"}}', "eval_time": at, "exp_samples": samples}


def test_gpu_series_gone_while_the_exporter_answers(tmp_path):
    # 30 minutes with a GPU, then the driver is unloaded: the GPU series stop (stale after 5m), the exporter
    # keeps answering; 5m of `for` later, at 40m-45m, the alert fires.
    gone = {**HOST, "severity": "critical"}
    tests = [
        {
            "name": "driver unloaded",
            "interval": "1m",
            "input_series": [
                _series("promspec_gpu_up", "1x30 _x60", gpu="0", uuid="GPU-1"),
                _series("up", "1x90"),
                _series("promspec_exporter_collector_success", "1x30 0x60", collector="gpu"),
            ],
            "promql_expr_test": [
                _fires("GPUMetricsGone", "33m", None),
                _fires("GPUMetricsGone", "45m", gone),
                _fires("GPUCollectorFailing", "40m", {**HOST, "collector": "gpu", "severity": "critical"}),
            ],
        },
        {
            "name": "exporter down is HostDown's, not this",
            "interval": "1m",
            "input_series": [
                _series("promspec_gpu_up", "1x30 _x60", gpu="0", uuid="GPU-1"),
                _series("up", "1x30 0x60"),
            ],
            "promql_expr_test": [_fires("GPUMetricsGone", "40m", None)],
        },
        {
            "name": "a host that never had GPUs",
            "interval": "1m",
            "input_series": [_series("up", "1x90")],
            "promql_expr_test": [_fires("GPUMetricsGone", "40m", None)],
        },
        {
            "name": "quiet again an hour after the GPUs went",
            "interval": "1m",
            "input_series": [_series("promspec_gpu_up", "1x30 _x120", gpu="0", uuid="GPU-1"), _series("up", "1x150")],
            "promql_expr_test": [_fires("GPUMetricsGone", "100m", None)],
        },
    ]
    path = tmp_path / "gpu.test.yml"
    path.write_text(
        yaml.safe_dump(
            {"rule_files": [str(REPO / "rules" / "gpu.yml")], "evaluation_interval": "1m", "tests": tests},
            sort_keys=False,
        )
    )
    result = subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
