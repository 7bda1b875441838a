"""Kubernetes output: PrometheusRule, ServiceMonitor/PodMonitor and dashboard ConfigMaps validated against the
vendored prometheus-operator CRD schemas; remote_write and external labels in prometheus.yml."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from conftest import REPO, run_promspec, snapshot

# Every test here starts a subprocess or a server (see the `slow` marker in pyproject.toml).
pytestmark = pytest.mark.slow

SPECS = """\
apiVersion: promspec/v1
kind: Catalog
metadata: {name: c}
spec:
  metrics:
    - {name: app_request_total, type: counter, labels: [model]}
---
apiVersion: promspec/v1
kind: RecordingGroup
metadata: {name: rec}
spec:
  rules:
    - {record: "app:request_rate_5m", expr: "sum by (model) (rate(app_request_total[5m]))"}
---
apiVersion: promspec/v1
kind: AlertGroup
metadata: {name: alerts}
spec:
  alerts:
    - {name: NoTraffic, kind: threshold, metric: "app:request_rate_5m", operator: "<", value: 0.1, for: 10m}
---
apiVersion: promspec/v1
kind: Targets
metadata: {name: t}
spec:
  jobs:
    - name: vllm
      targets: ["vllm:8000"]
      interval: 30s
      labels: {cluster_role: serving}
      kubernetes: {selector: {app: vllm}, port: http, namespaces: [inference]}
    - name: gpu_exporter
      targets: ["node1:19400"]
      strip_port: true
      kubernetes: {monitor: PodMonitor}
---
apiVersion: promspec/v1
kind: Settings
metadata: {name: s}
spec:
  outputs: [files, kubernetes]
  external_labels: {cluster: gpu-east}
  kubernetes:
    namespace: monitoring
    labels: {release: kube-prometheus-stack}
  remote_write:
    - url: https://mimir.example.com/api/v1/push
      name: central
      bearer_token_file: /etc/prometheus/secrets/mimir-token
      headers: {X-Scope-OrgID: gpu-east}
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("k8s")
    (root / "specs").mkdir()
    (root / "specs" / "all.yml").write_text(SPECS)
    run_promspec("generate", str(root / "specs"), "-o", str(root / "out"), check=0)
    return root / "out"


def _load(path):
    return yaml.safe_load(path.read_text())


def test_resources_mirror_the_rendered_files(rendered):
    rule = _load(rendered / "kubernetes" / "prometheusrules" / "all.yaml")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["kind"] == "PrometheusRule"
    assert rule["metadata"] == {
        "name": "promspec-all",
        "namespace": "monitoring",
        "labels": {"app.kubernetes.io/managed-by": "promspec", "release": "kube-prometheus-stack"},
    }
    assert rule["spec"]["groups"] == _load(rendered / "rules" / "all.yml")["groups"]

    sm = _load(rendered / "kubernetes" / "servicemonitors" / "vllm.yaml")
    assert sm["kind"] == "ServiceMonitor"
    assert sm["spec"]["selector"] == {"matchLabels": {"app": "vllm"}}
    assert sm["spec"]["namespaceSelector"] == {"matchNames": ["inference"]}
    assert sm["spec"]["endpoints"] == [
        {
            "port": "http",
            "interval": "30s",
            "relabelings": [
                {"targetLabel": "job", "replacement": "vllm"},
                {"targetLabel": "cluster_role", "replacement": "serving"},
            ],
        }
    ]

    pm = _load(rendered / "kubernetes" / "podmonitors" / "gpu-exporter.yaml")
    assert pm["kind"] == "PodMonitor" and pm["metadata"]["name"] == "promspec-gpu-exporter"
    endpoint = pm["spec"]["podMetricsEndpoints"][0]
    assert endpoint["port"] == "metrics"
    assert endpoint["relabelings"][1] == {
        "sourceLabels": ["__address__"],
        "regex": r"(.+?)(?::\d+)?",
        "targetLabel": "instance",
        "replacement": "$1",
    }
    kustomization = _load(rendered / "kubernetes" / "kustomization.yaml")
    assert kustomization["resources"] == [
        "podmonitors/gpu-exporter.yaml",
        "prometheusrules/all.yaml",
        "servicemonitors/vllm.yaml",
    ]


def test_remote_write_and_external_labels(rendered):
    config = _load(rendered / "prometheus" / "prometheus.yml")
    assert config["global"]["external_labels"] == {"cluster": "gpu-east"}
    assert config["remote_write"] == [
        {
            "url": "https://mimir.example.com/api/v1/push",
            "name": "central",
            "headers": {"X-Scope-OrgID": "gpu-east"},
            "authorization": {"credentials_file": "/etc/prometheus/secrets/mimir-token"},
        }
    ]


def test_check_validates_against_the_crd_schemas(rendered, tmp_path, promtool):
    proc = run_promspec("check", str(rendered), check=0)
    assert "prometheus-operator CRD schemas: 3 resources in kubernetes/" in proc.stderr
    # Break the resources the way a hand edit would: the checks must notice each.
    out = tmp_path / "out"
    import shutil

    shutil.copytree(rendered, out)
    sm_path = out / "kubernetes" / "servicemonitors" / "vllm.yaml"
    sm = _load(sm_path)
    sm["spec"]["endpoints"][0]["intervall"] = "30s"
    sm["spec"]["endpoints"][0]["scrapeTimeout"] = "5 seconds"
    sm_path.write_text(yaml.safe_dump(sm))
    rule_path = out / "kubernetes" / "prometheusrules" / "all.yaml"
    rule = _load(rule_path)
    rule["spec"]["groups"].append(dict(rule["spec"]["groups"][0]))
    rule["metadata"]["name"] = "Promspec_All"
    rule_path.write_text(yaml.safe_dump(rule))
    proc = run_promspec("check", str(out))
    assert proc.returncode == 1
    assert (
        "kubernetes/servicemonitors/vllm.yaml: spec.endpoints[0]: Additional properties are not allowed "
        "('intervall' was unexpected)" in proc.stderr
    )
    assert (
        "kubernetes/servicemonitors/vllm.yaml: spec.endpoints[0].scrapeTimeout: '5 seconds' does not match"
        in proc.stderr
    )
    assert "kubernetes/prometheusrules/all.yaml: spec.groups[2]: duplicate name rec" in proc.stderr
    assert "metadata.name 'Promspec_All' is not a DNS-1123 name" in proc.stderr


def test_format_kubernetes_alone_leaves_the_other_directories(rendered, tmp_path):
    specs = rendered.parent / "specs"
    out = tmp_path / "out"
    (out / "rules").mkdir(parents=True)
    (out / "rules" / "hand.yml").write_text("kept")
    run_promspec("generate", str(specs), "-o", str(out), "--format", "kubernetes", check=0)
    assert (out / "rules" / "hand.yml").read_text() == "kept"
    assert sorted(os.listdir(out)) == ["kubernetes", "rules"]
    assert snapshot(str(out / "kubernetes")) == snapshot(str(rendered / "kubernetes"))
    run_promspec("generate", str(specs), "-o", str(out), "--format", "kubernetes", "--check", check=0)
    # Files only: kubernetes/ holds only what promspec wrote, so it goes; the hand-written rule file stays.
    run_promspec("generate", str(specs), "-o", str(out), "--format", "files", check=0)
    assert not (out / "kubernetes").exists()
    assert (out / "rules" / "hand.yml").read_text() == "kept"


def test_bundled_dashboards_become_sidecar_configmaps(tmp_path):
    from promspec.check.kubernetes_crds import validate_resource

    run_promspec(
        "generate",
        os.path.join(REPO, "specs"),
        "-o",
        str(tmp_path),
        "--format",
        "files",
        "--format",
        "kubernetes",
        check=0,
    )
    dashboards = sorted((tmp_path / "dashboards").rglob("*.json"))
    maps = sorted((tmp_path / "kubernetes" / "dashboards").glob("*.yaml"))
    assert dashboards and len(maps) == len(dashboards)
    for path in maps:
        cm = _load(path)
        assert cm["kind"] == "ConfigMap" and cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        ((key, text),) = cm["data"].items()
        folder = cm["metadata"].get("annotations", {}).get("k8s-sidecar-target-directory", "")
        source = tmp_path / "dashboards" / folder / key
        assert json.loads(source.read_text()) == json.loads(text)
        assert validate_resource(cm) == []
    for path in (tmp_path / "kubernetes").rglob("*.yaml"):
        assert validate_resource(_load(path)) == [] or path.name == "kustomization.yaml"


def test_inline_remote_write_credentials_are_errors(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "s.yml").write_text(
        "apiVersion: promspec/v1\nkind: Settings\nmetadata: {name: s}\nspec:\n  remote_write:\n"
        "    - url: https://user:s3cretpass@mimir.example.com/api/v1/push\n"
        "    - {url: https://mimir.example.com/push, bearer_token: abcdef123456}\n"
    )
    proc = run_promspec("generate", str(tmp_path / "specs"), "-o", str(tmp_path / "out"), check=1)
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(f"{tmp_path}/specs/s.yml:6:12: this looks like an inline secret (a password in a URL)")
    assert lines[1].startswith(f"{tmp_path}/specs/s.yml:7:59: inline secret in bearer_token")
    assert "s3cretpass" not in proc.stderr and "abcdef123456" not in proc.stderr
    assert not (tmp_path / "out").exists()
