"""The systemd unit and Kubernetes manifests agree with the exporter they deploy."""

import shutil
import subprocess

import pytest
import yaml

from promspec.exporter import DEFAULT_PORT
from promspec.exporter.cli import parse_args

from .exporter_harness import REPO

UNIT = REPO / "deploy" / "systemd" / "promspec-exporter.service"
KUBE = REPO / "deploy" / "kubernetes"


def unit_settings() -> dict:
    settings: dict = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_unit_is_hardened():
    settings = unit_settings()
    for key, expected in {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "DevicePolicy": "closed",
    }.items():
        assert settings.get(key) == [expected], key


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_unit_passes_systemd_analyze(tmp_path):
    unit = tmp_path / "promspec-exporter.service"
    unit.write_text(UNIT.read_text().replace("/opt/promspec-exporter/bin/promspec-exporter", "/bin/true"))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_daemonset_targets_gpu_nodes_and_parses():
    daemonset = yaml.safe_load((KUBE / "daemonset.yaml").read_text())
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["nodeSelector"] and pod["tolerations"] and pod["hostPID"] is False
    container = pod["containers"][0]
    env = {item["name"]: item["value"] for item in container["env"]}
    args = parse_args(container["args"], env)
    assert args.listen_address == f":{DEFAULT_PORT}" and args.procfs == "/host/proc"
    assert container["ports"][0]["containerPort"] == DEFAULT_PORT and not args.gpu_processes
    service = yaml.safe_load((KUBE / "service.yaml").read_text())
    assert service["spec"]["ports"][0]["port"] == DEFAULT_PORT


def test_processes_patch_turns_on_host_pid_with_the_collector():
    patch = yaml.safe_load((KUBE / "processes-patch.yaml").read_text())["spec"]["template"]["spec"]
    env = {item["name"]: item["value"] for item in patch["containers"][0]["env"]}
    assert patch["hostPID"] is True and parse_args([], env).gpu_processes is True
