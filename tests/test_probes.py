"""kind: Probe: checks and rendering (fast), promtool and blackbox_exporter on the output, and a real
blackbox_exporter + Prometheus against local HTTP servers whose alerts fire and resolve (slow)."""

from __future__ import annotations

import datetime
import http.server
import json
import os
import shutil
import ssl
import subprocess
import threading
import time

import pytest
import yaml

from promspec.diagnostics import SpecError
from promspec.pipeline import load_project
from promspec.render.outputs import render_project

from conftest import REPO, free_port, require_tool, run_promspec

FIXTURE = os.path.join(REPO, "tests", "fixtures", "probes")

HTTP_PROBE = """\
apiVersion: promspec/v1
kind: Probe
metadata: {{name: web}}
spec:
  module: http
  targets: [{targets}]
  locations: [{{name: a, exporter: "127.0.0.1:9115"}}, {{name: b, exporter: "127.0.0.1:9116"}}]
{extra}
"""


def load_text(tmp_path, text: str):
    path = tmp_path / "probe.yml"
    path.write_text(text)
    return load_project([str(path)], env={})


def errors_of(tmp_path, text: str) -> str:
    with pytest.raises(SpecError) as exc:
        load_text(tmp_path, text)
    return str(exc.value)


def test_fixture_renders_modules_jobs_and_alerts():
    project, _ = load_project([FIXTURE], env={})
    files = render_project(project)
    bb = yaml.safe_load(files["blackbox/blackbox.yml"])
    api = bb["modules"]["api-health"]
    assert api["prober"] == "http" and api["http"]["valid_status_codes"] == [200]
    assert api["http"]["authorization"] == {"credentials_file": "/etc/blackbox/token"}
    assert "Authorization" not in api["http"].get("headers", {})
    prom = yaml.safe_load(files["prometheus/prometheus.yml"])
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    eu = jobs["probe-api-health-eu-west"]
    assert eu["metrics_path"] == "/probe" and eu["params"] == {"module": ["api-health"]}
    assert eu["relabel_configs"][-1] == {"target_label": "__address__", "replacement": "bb-eu.example.com:9115"}
    assert eu["static_configs"][0]["labels"] == {"team": "inference", "probe": "api-health", "location": "eu-west"}
    rules = yaml.safe_load(files["rules/probes.yml"])
    alerts = {
        (r["alert"], r["labels"]["probe"]): r
        for g in rules["groups"]
        for r in g["rules"]
        if "alert" in r and "probe" in r["labels"]
    }
    assert alerts[("ProbeFailing", "api-health")]["expr"].endswith(">= 2")
    assert alerts[("ProbeSlow", "api-health")]["for"] == "10m"
    assert ("ProbeCertificateExpiring", "db-port") not in alerts
    assert "rules/tests/probes-probes.test.yml" in files


def test_rendering_is_deterministic():
    first = render_project(load_project([FIXTURE], env={})[0])
    assert first == render_project(load_project([FIXTURE], env={})[0])


@pytest.mark.parametrize(
    "extra, message",
    [
        ("  http: {headers: {X-Api-Key: abc123}}", "carries an inline secret"),
        ("  http: {headers: {X-Trace: {file: /x}}}", "reads only the Authorization credentials from a file"),
        ("  alerts: {failing: {min_locations: 3}}", "min_locations 3 is more than the 2 location(s)"),
        ("  tls: {min_cert_days: 10}\n  module: tcp", ""),  # duplicate key: the loader's error
        ("  interval: 10s\n  timeout: 20s", "timeout 20s is longer than interval 10s"),
        ("  dns: {query_name: example.com}", "dns settings on a http probe"),
    ],
)
def test_bad_probe_is_an_error_at_its_position(tmp_path, extra, message):
    text = errors_of(tmp_path, HTTP_PROBE.format(targets="https://127.0.0.1:8443/", extra=extra))
    assert "probe.yml:" in text and message in text


def test_env_header_warns_that_old_blackbox_sends_it_verbatim(tmp_path):
    _, report = load_text(
        tmp_path,
        HTTP_PROBE.format(
            targets="https://127.0.0.1:8443/", extra="  http: {headers: {Authorization: '${API_TOKEN}'}}"
        ),
    )
    assert any("expands it only" in w.message for w in report.warnings)


def test_tcp_target_must_be_host_port(tmp_path):
    text = HTTP_PROBE.format(targets="https://x/", extra="").replace("module: http", "module: tcp")
    assert "is not host:port" in errors_of(tmp_path, text)


def test_unknown_probe_in_sli_suggests_a_name(tmp_path):
    text = (
        HTTP_PROBE.format(targets="https://127.0.0.1:8443/", extra="")
        + """---
apiVersion: promspec/v1
kind: Service
metadata: {name: s}
spec:
  slos: [{name: up, objective: 99%, sli: {probe: wab}}]
"""
    )
    assert "no Probe named 'wab' (did you mean 'web'?)" in errors_of(tmp_path, text)


def test_no_probes_no_blackbox_output():
    project, _ = load_project([os.path.join(REPO, "specs")], env={})
    assert not any(p.startswith("blackbox/") for p in render_project(project))


@pytest.mark.slow
def test_generated_tests_pass_promtool_and_blackbox_accepts_the_modules(tmp_path):
    require_tool("promtool")
    bbe = require_tool("prometheus-blackbox-exporter")
    out = tmp_path / "out"
    run_promspec("generate", FIXTURE, "-o", str(out), check=0)
    for test in sorted((out / "rules" / "tests").glob("*.test.yml")):
        proc = subprocess.run(
            ["promtool", "test", "rules", test.name],
            cwd=test.parent,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run(
        [bbe, "--config.check", f"--config.file={out / 'blackbox' / 'blackbox.yml'}"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr


# --- end to end: Debian's blackbox_exporter, a real Prometheus, local servers ----------------------


class Site:
    """A loopback HTTP(S) server answering with a status after a delay; both can change mid-test."""

    def __init__(self, status: int = 200, delay: float = 0.0, tls: ssl.SSLContext | None = None):
        self.status, self.delay = status, delay
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                time.sleep(site.delay)
                body = b'{"status": "ok"}'
                self.send_response(site.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def short_lived_cert(tmp_path, days: int) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return ctx


E2E_SPEC = """\
apiVersion: promspec/v1
kind: Settings
metadata: {{name: settings}}
spec: {{scrape_interval: 1s, evaluation_interval: 1s, alertmanagers: []}}
---
apiVersion: promspec/v1
kind: Probe
metadata: {{name: web}}
spec:
  module: http
  targets: ["http://127.0.0.1:{healthy}/", "http://127.0.0.1:{failing}/", "http://127.0.0.1:{slow}/"]
  interval: 1s
  timeout: 1s
  locations: [{{name: lab, exporter: "127.0.0.1:{bbe}"}}]
  http: {{valid_status_codes: [200], body_regex: 'ok'}}
  alerts:
    failing: {{for: 3s}}
    slow: {{threshold: 300ms, for: 3s}}
---
apiVersion: promspec/v1
kind: Probe
metadata: {{name: tls}}
spec:
  module: http
  targets: ["https://127.0.0.1:{tls}/"]
  interval: 1s
  timeout: 1s
  locations: [{{name: lab, exporter: "127.0.0.1:{bbe}"}}]
  http: {{insecure_skip_verify: true}}
  tls: {{min_cert_days: 7}}
  alerts: {{failing: {{for: 3s}}}}
"""


@pytest.mark.slow
def test_blackbox_exporter_and_prometheus_fire_and_resolve(tmp_path, prometheus_factory):
    bbe_bin = require_tool("prometheus-blackbox-exporter")
    healthy, failing, slow = Site(), Site(status=500), Site(delay=0.6)
    secure = Site(tls=short_lived_cert(tmp_path, days=2))
    bbe = None
    try:
        bbe_port = free_port()
        specs = tmp_path / "specs"
        specs.mkdir()
        (specs / "probes.yml").write_text(
            E2E_SPEC.format(healthy=healthy.port, failing=failing.port, slow=slow.port, tls=secure.port, bbe=bbe_port)
        )
        out = tmp_path / "out"
        run_promspec("generate", str(specs), "-o", str(out), check=0)
        bbe = subprocess.Popen(
            [
                bbe_bin,
                f"--config.file={out / 'blackbox' / 'blackbox.yml'}",
                f"--web.listen-address=127.0.0.1:{bbe_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        prom = prometheus_factory(str(out / "prometheus" / "prometheus.yml"))

        def firing() -> set:
            return {
                (a["metric"]["alertname"], a["metric"]["instance"]) for a in prom.query('ALERTS{alertstate="firing"}')
            }

        want = {
            ("ProbeFailing", f"http://127.0.0.1:{failing.port}/"),
            ("ProbeSlow", f"http://127.0.0.1:{slow.port}/"),
            ("ProbeCertificateExpiring", f"https://127.0.0.1:{secure.port}/"),
        }
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not want <= firing():
            time.sleep(0.5)
        got = firing()
        assert want <= got, got
        assert not any(inst == f"http://127.0.0.1:{healthy.port}/" for _, inst in got)
        assert ("ProbeFailing", f"https://127.0.0.1:{secure.port}/") not in got  # skip-verify: the probe succeeds

        failing.status, slow.delay = 200, 0.0  # both recover; their alerts resolve
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (want - {next(iter(sorted(want)))}) & firing():
            time.sleep(0.5)
        left = firing()
        assert ("ProbeFailing", f"http://127.0.0.1:{failing.port}/") not in left
        assert ("ProbeSlow", f"http://127.0.0.1:{slow.port}/") not in left
        assert ("ProbeCertificateExpiring", f"https://127.0.0.1:{secure.port}/") in left
    finally:
        if bbe is not None:
            bbe.terminate()
            bbe.wait(10)
        for site in (healthy, failing, slow, secure):
            site.close()


CLIENT_SLO_SERVICE = """\
apiVersion: promspec/v1
kind: Service
metadata: {name: chat-lb}
spec:
  backend: vllm
  selector: {job: vllm}
  slos:
    - {name: client-ttft, objective: 99%, sli: {probe: chat-lb, signal: ttft, threshold: 1s}}
    - {name: server-ttft, objective: 99%, sli: {signal: ttft, threshold: 1s}}
"""


def test_llm_serving_dashboard_shows_client_beside_server_ttft_only_with_a_probe_sli(tmp_path):
    (tmp_path / "svc.yml").write_text(CLIENT_SLO_SERVICE)
    project, _ = load_project([os.path.join(REPO, "specs", "backends"), str(tmp_path / "svc.yml")], env={})
    files = render_project(project)
    board = json.loads(files["dashboards/llm/llm-service-chat-lb.json"])
    panel = next(p for p in board["panels"] if p["title"].startswith("TTFT p95: client-observed"))
    exprs = [t["expr"] for t in panel["targets"]]
    assert any("vllm:time_to_first_token_seconds_bucket" in e for e in exprs)
    assert any('promspec_probe_llm_ttft_seconds_bucket{target=~"chat-lb"}' in e for e in exprs)
    rules = files["rules/svc.yml"].decode()
    # The client SLI reads the probe's series only: the engine's selector (job="vllm") is not applied to them.
    assert 'promspec_probe_llm_ttft_seconds_bucket{target="chat-lb",le=~"1|1.0"}' in rules
    (tmp_path / "svc.yml").write_text(
        CLIENT_SLO_SERVICE.replace(
            "    - {name: client-ttft, objective: 99%, sli: {probe: chat-lb, signal: ttft, threshold: 1s}}\n", ""
        )
    )
    plain = render_project(
        load_project([os.path.join(REPO, "specs", "backends"), str(tmp_path / "svc.yml")], env={})[0]
    )
    assert b"client-observed" not in plain["dashboards/llm/llm-service-chat-lb.json"]


def test_probe_ttft_threshold_must_be_a_bucket_bound(tmp_path):
    text = CLIENT_SLO_SERVICE.replace("signal: ttft, threshold: 1s}}", "signal: ttft, threshold: 800ms}}", 1)
    (tmp_path / "svc.yml").write_text(text)
    with pytest.raises(SpecError) as exc:
        load_project([os.path.join(REPO, "specs", "backends"), str(tmp_path / "svc.yml")], env={})
    assert "threshold 800ms is not a bucket bound" in str(exc.value) and "0.75s, 1s" in str(exc.value)


@pytest.mark.slow
def test_generate_leaves_a_hand_written_blackbox_dir_alone_and_cleans_its_own(tmp_path):
    out = tmp_path / "out"
    (out / "blackbox").mkdir(parents=True)
    (out / "blackbox" / "blackbox.yml").write_text("modules: {mine: {prober: http}}\n")
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("settings.yml", "targets.yml"):  # something to monitor, and no Probe
        shutil.copy(os.path.join(REPO, "specs", name), plain)
    proc = run_promspec("generate", str(plain), "-o", str(out), check=0)
    assert (out / "blackbox" / "blackbox.yml").read_text() == "modules: {mine: {prober: http}}\n"
    assert "blackbox/blackbox.yml: warning: not written by promspec" in proc.stderr
    run_promspec("generate", str(plain), "-o", str(out), "--check", check=0)

    (out / "blackbox" / "blackbox.yml").unlink()
    run_promspec("generate", FIXTURE, "-o", str(out), check=0)
    assert (out / "blackbox" / "blackbox.yml").read_text().startswith("# Generated by promspec from ")
    run_promspec("generate", str(plain), "-o", str(out), check=0)  # the last Probe removed: its output goes too
    assert not (out / "blackbox" / "blackbox.yml").exists()


LONG_FOR = HTTP_PROBE.format(
    targets="https://127.0.0.1:8443/",
    extra="  tls: {}\n  alerts: {failing: {for: 2h}, slow: {threshold: 1s, for: 45m}}",
)


def test_empty_tls_asks_for_the_default_expiry_check(tmp_path):
    project, _ = load_text(tmp_path, LONG_FOR)
    rules = render_project(project)["rules/probe.yml"].decode()
    assert "ProbeCertificateExpiring" in rules and "< 1209600" in rules  # 14 days


@pytest.mark.slow
def test_generated_tests_cover_long_for_durations(tmp_path):
    require_tool("promtool")
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "probe.yml").write_text(LONG_FOR)
    out = tmp_path / "out"
    run_promspec("generate", str(specs), "-o", str(out), check=0)
    proc = subprocess.run(
        ["promtool", "test", "rules", "probe-probes.test.yml"],
        cwd=out / "rules" / "tests",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_promspec_check_runs_blackbox_config_check(tmp_path):
    require_tool("promtool")
    require_tool("prometheus-blackbox-exporter")
    out = tmp_path / "out"
    run_promspec("generate", FIXTURE, "-o", str(out), check=0)
    assert "blackbox_exporter --config.check" in run_promspec("check", str(out), check=0).stderr
    (out / "blackbox" / "blackbox.yml").write_text("modules:\n  x: {prober: http, bogus: 1}\n")
    proc = run_promspec("check", str(out), check=1)
    assert "field bogus not found" in proc.stdout + proc.stderr


PROBE_BACKEND_SERVICE = """\
apiVersion: promspec/v1
kind: Service
metadata: {name: chat-client}
spec:
  backend: probe
  selector: {target: chat-lb}
  slos:
    - {name: ttft, objective: 99%, sli: {signal: ttft, threshold: 1s}}
    - {name: errors, objective: 99.5%, sli: {signal: errors}}
"""


def test_backend_probe_gives_client_side_slos_and_a_serving_dashboard(tmp_path):
    (tmp_path / "svc.yml").write_text(PROBE_BACKEND_SERVICE)
    files = render_project(load_project([str(tmp_path / "svc.yml")], env={})[0])
    rules = files["rules/svc.yml"].decode()
    assert 'promspec_probe_llm_ttft_seconds_bucket{target="chat-lb",le=~"1|1.0"}' in rules
    assert 'sum(rate(promspec_probe_llm_probes_total{target="chat-lb",outcome!="ok"}[5m]))' in rules
    board = files["dashboards/llm/llm-service-chat-client.json"].decode()
    assert "promspec_probe_llm_ttft_seconds_bucket" in board and "client-observed vs" not in board


def test_backend_probe_threshold_off_the_buckets_is_an_error(tmp_path):
    (tmp_path / "svc.yml").write_text(PROBE_BACKEND_SERVICE.replace("threshold: 1s", "threshold: 900ms"))
    with pytest.raises(SpecError) as exc:
        load_project([str(tmp_path / "svc.yml")], env={})
    assert "threshold 900ms is not a bucket bound" in str(exc.value)


@pytest.mark.slow
def test_backend_probe_slo_tests_pass_promtool(tmp_path):
    require_tool("promtool")
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "svc.yml").write_text(PROBE_BACKEND_SERVICE)
    out = tmp_path / "out"
    run_promspec("generate", str(specs), "-o", str(out), check=0)
    for test in sorted((out / "rules" / "tests").glob("*.test.yml")):
        proc = subprocess.run(
            ["promtool", "test", "rules", test.name],
            cwd=test.parent,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
