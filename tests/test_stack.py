"""promspec stack up|down: real Prometheus, Alertmanager and promspec-exporter on loopback, stopped by PID."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from conftest import BIN, REPO, http_json, require_tool, run_promspec
from ops_servers import wait_for

# Every test here starts a subprocess or a server (see the `slow` marker in pyproject.toml).
pytestmark = pytest.mark.slow


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def rendered(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    for name in ("notifications.yml", "targets.yml", "settings.yml"):
        shutil.copy(os.path.join(REPO, "specs", name), specs)
    run_promspec("generate", str(specs), "-o", str(tmp_path / "out"), check=0)
    return tmp_path / "out"


def test_up_serves_the_rendered_config_and_down_stops_exactly_its_processes(rendered):
    require_tool("prometheus")
    require_tool("prometheus-alertmanager")
    bystander = subprocess.Popen(["sleep", "300"])  # a process the stack did not start
    try:
        proc = run_promspec("stack", "up", "--dir", str(rendered), check=0)
        state = json.loads((rendered / ".promspec-stack" / "state.json").read_text())
        procs = {p["name"]: p for p in state["processes"]}
        assert sorted(procs) == ["alertmanager", "exporter", "prometheus"]
        for p in procs.values():
            assert p["url"].startswith("http://127.0.0.1:")
            assert f"{p['url']}" in proc.stdout and f"(pid {p['pid']})" in proc.stdout
            assert _running(p["pid"])
        prom, am, exporter = procs["prometheus"]["url"], procs["alertmanager"]["url"], procs["exporter"]["url"]
        for url in (prom + "/-/ready", am + "/-/ready", exporter + "/healthz"):
            http_json_or_text(url)

        # Prometheus sends to this stack's Alertmanager and scrapes its exporter under the rendered job name.
        def alertmanagers():
            active = http_json(prom + "/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
            return [a["url"] for a in active]

        assert wait_for(alertmanagers, 30, "Prometheus to discover Alertmanager") == [am + "/api/v2/alerts"]

        def exporter_up():
            targets = http_json(prom + "/api/v1/targets")["data"]["activeTargets"]
            return [t for t in targets if t["labels"]["job"] == "promspec-exporter" and t["health"] == "up"]

        found = wait_for(exporter_up, 40, "the exporter target to be scraped")
        assert found[0]["scrapeUrl"] == exporter + "/metrics"

        again = run_promspec("stack", "up", "--dir", str(rendered), check=1)
        assert "is still running" in again.stderr and "promspec stack down" in again.stderr

        down = run_promspec("stack", "down", "--dir", str(rendered), check=0)
        for p in procs.values():
            assert f"stopped {p['name']} (pid {p['pid']})" in down.stderr
            assert not _running(p["pid"])
        assert bystander.poll() is None and _running(bystander.pid)
        assert not (rendered / ".promspec-stack" / "state.json").exists()
        gone = run_promspec("stack", "down", "--dir", str(rendered), check=1)
        assert "no stack is running" in gone.stderr
    finally:
        if (rendered / ".promspec-stack" / "state.json").exists():
            run_promspec("stack", "down", "--dir", str(rendered))
        bystander.terminate()
        bystander.wait()


def http_json_or_text(url: str) -> None:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.status == 200


def test_down_leaves_a_reused_pid_alone(rendered):
    # A state file whose PID now belongs to another process (its start time differs) is not signalled.
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        state_dir = rendered / ".promspec-stack"
        state_dir.mkdir()
        (state_dir / "state.json").write_text(
            json.dumps(
                {
                    "started": "then",
                    "dir": str(rendered),
                    "processes": [
                        {
                            "name": "prometheus",
                            "pid": bystander.pid,
                            "start_ticks": "1",
                            "port": 1,
                            "url": "",
                            "log": "",
                        }
                    ],
                }
            )
        )
        proc = run_promspec("stack", "down", "--dir", str(rendered), check=0)
        assert f"prometheus (pid {bystander.pid}) was no longer running" in proc.stderr
        assert bystander.poll() is None
    finally:
        bystander.terminate()
        bystander.wait()


def test_missing_binary_and_missing_output_are_clear_errors(rendered, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("prometheus"), bin_dir / "prometheus")
    proc = run_promspec("stack", "up", "--dir", str(rendered), env={"PATH": f"{bin_dir}:{BIN}"}, check=1)
    assert "alertmanager not found on PATH" in proc.stderr and "apt-get install prometheus-alertmanager" in proc.stderr
    assert not (rendered / ".promspec-stack" / "state.json").exists()
    proc = run_promspec("stack", "up", "--dir", str(tmp_path / "nothing"), check=1)
    assert "no rendered output" in proc.stderr and "promspec generate -o" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_placeholders_need_their_environment_variables(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "n.yml").write_text(
        "apiVersion: promspec/v1\nkind: Notifications\nmetadata: {name: n}\nspec:\n"
        "  receivers:\n    - {name: p, pagerduty: {routing_key: '${PD_KEY}'}}\n"
        "  route: {receiver: p}\n"
    )
    run_promspec("generate", str(specs), "-o", str(tmp_path / "out"), check=0)
    env = {k: v for k, v in os.environ.items() if k != "PD_KEY"}
    proc = subprocess.run(
        [os.path.join(BIN, "promspec"), "stack", "up", "--dir", str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "set PD_KEY before `promspec stack up`" in proc.stderr


@pytest.mark.slow
def test_up_with_a_relative_dir_as_the_readme_says(rendered):
    # Issue 9.7: the servers run in the state directory, so a relative --dir once reached them as a wrong path.
    require_tool("prometheus")
    require_tool("prometheus-alertmanager")
    cwd = str(rendered.parent)
    try:
        proc = run_promspec("stack", "up", "--dir", "out", "--no-exporter", cwd=cwd, check=0)
        state = json.loads((rendered / ".promspec-stack" / "state.json").read_text())
        assert state["dir"] == str(rendered)
        for p in state["processes"]:
            http_json_or_text(p["url"] + "/-/ready")
            assert p["log"].startswith(str(rendered) + "/")
        assert (rendered / ".promspec-stack" / "data" / "prometheus").is_dir()
        assert "stop it with: promspec stack down --dir out" in proc.stderr
    finally:
        run_promspec("stack", "down", "--dir", "out", cwd=cwd)
    assert not (rendered / ".promspec-stack" / "state.json").exists()


def test_up_starts_blackbox_exporter_when_the_output_has_probes(tmp_path):
    require_tool("prometheus-blackbox-exporter")
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(os.path.join(REPO, "specs", "notifications.yml"), specs)
    shutil.copy(os.path.join(REPO, "tests", "fixtures", "probes", "probes.yml"), specs)
    out = tmp_path / "out"
    run_promspec("generate", str(specs), "-o", str(out), check=0)
    try:
        run_promspec("stack", "up", "--dir", str(out), "--no-exporter", check=0)
        state = json.loads((out / ".promspec-stack" / "state.json").read_text())
        procs = {p["name"]: p for p in state["processes"]}
        assert set(procs) == {"alertmanager", "blackbox", "prometheus"}
        blackbox = f"127.0.0.1:{procs['blackbox']['port']}"

        def probe_targets():
            targets = http_json(procs["prometheus"]["url"] + "/api/v1/targets")["data"]["activeTargets"]
            return [t for t in targets if t["labels"]["job"].startswith("probe-")]

        found = wait_for(probe_targets, 30, "the probe jobs")
        # Every location's job goes to this stack's blackbox_exporter, with the standard ?target= relabelling.
        assert {t["discoveredLabels"]["__address__"] for t in found} >= {"db.example.com:5432"}
        assert all(t["scrapeUrl"].startswith(f"http://{blackbox}/probe?") for t in found)
    finally:
        run_promspec("stack", "down", "--dir", str(out))
