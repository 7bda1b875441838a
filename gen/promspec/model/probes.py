"""`kind: Probe` documents -> the Probe model, with every check that needs more than the schema."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from ..compile.promql import parse_duration
from ..diagnostics import Report
from .loader import Document
from .project import Project, Ref, Written, effective_timeout, written_at

# Header names whose inline values are credentials: they may only come from ${ENV} or a file.
SECRET_HEADER = re.compile(
    r"(?i)(authori[sz]ation|token|secret|password|passwd|api[-_]?key|cookie|credential|"
    r"^x-.*key$|^auth)"
)
ENV_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
HOSTPORT = re.compile(r"^[^\s/]+:[0-9]{1,5}$")
DEFAULT_FOR = "5m"
DEFAULT_SLOW_FOR = "5m"
DEFAULT_CERT_DAYS = 14


@dataclass(frozen=True, kw_only=True)
class Location:
    name: str
    exporter: str


@dataclass(frozen=True, kw_only=True)
class ProbeAlerts:
    failing: bool
    failing_for: str
    min_locations: int
    failing_severity: str
    slow_threshold: str  # as written ("" when there is no slow alert)
    slow_seconds: float
    slow_for: str
    slow_severity: str
    cert: bool
    cert_severity: str
    labels: dict[str, str] = field(default_factory=dict)
    # What alerts.failing and alerts.slow say as written: where checks of their alerts point.
    failing_written: Written = field(default_factory=Written)
    slow_written: Written = field(default_factory=Written)


@dataclass(frozen=True, kw_only=True)
class Probe:
    name: str
    ref: Ref  # the document's spec
    module: str
    targets: tuple[str, ...]
    interval: str
    timeout: str
    labels: dict[str, str]
    locations: tuple[Location, ...]
    http: dict[str, Any]
    min_cert_days: int  # 0: no certificate expectation
    dns: dict[str, Any]
    grpc: dict[str, Any]
    alerts: ProbeAlerts
    tls_written: Written = field(default_factory=Written)  # as ProbeAlerts' (the certificate alert points at tls)


def _check_targets(doc: Document, module: str, targets: list[str], report: Report) -> None:
    for i, target in enumerate(targets):
        where = ("spec", "targets", i)
        if module == "http" and not re.match(r"^https?://[^\s/]+", target):
            report.error(
                doc.pos(where),
                f"target {target!r} is not an http(s) URL",
                f"spec.targets[{i}]",
                "a URL such as https://api.example.com/healthz for module http",
            )
        elif module in ("tcp", "grpc", "dns") and not HOSTPORT.match(target):
            report.error(
                doc.pos(where),
                f"target {target!r} is not host:port",
                f"spec.targets[{i}]",
                f"host:port for module {module}, e.g. api.example.com:443",
            )
        elif module == "icmp" and ("/" in target or (HOSTPORT.match(target) and target.count(":") == 1)):
            report.error(
                doc.pos(where),
                f"target {target!r} is not a host",
                f"spec.targets[{i}]",
                "a host name or IP address for module icmp (no port, no path)",
            )


def _check_headers(doc: Document, headers: dict[str, Any], report: Report) -> None:
    for name, value in headers.items():
        where = ("spec", "http", "headers", name)
        if isinstance(value, dict):
            if name.lower() != "authorization":
                report.error(
                    doc.pos(where),
                    f"header {name!r} from a file: blackbox_exporter reads only the "
                    "Authorization credentials from a file",
                    f"spec.http.headers.{name}",
                    "{file: ...} for Authorization only; ${ENV_VAR} for other secret headers",
                )
            continue
        if ENV_REF.match(value):
            report.warn(
                doc.pos(where),
                f"header {name!r} is {value}: blackbox_exporter expands it only when it "
                "runs with environment expansion (--config.enable-env-expansion, newer than Debian's 0.23); "
                "older versions send the text as written",
                f"spec.http.headers.{name}",
                "a blackbox_exporter that expands ${...}, or {file: ...} for Authorization",
            )
            continue
        if SECRET_HEADER.search(name):
            report.error(
                doc.pos(where),
                f"header {name!r} carries an inline secret; it would be written to blackbox.yml in clear",
                f"spec.http.headers.{name}",
                "${ENV_VAR} (expanded by blackbox_exporter) or {file: /path/to/secret}",
            )


def _alerts(doc: Document, raw: dict[str, Any], locations: int, module_has_tls: bool, report: Report) -> ProbeAlerts:
    failing = raw.get("failing", {})
    min_locations = failing.get("min_locations", locations // 2 + 1)
    if min_locations > locations:
        report.error(
            doc.pos(("spec", "alerts", "failing", "min_locations")),
            f"min_locations {min_locations} is more than the {locations} location(s) declared",
            "spec.alerts.failing.min_locations",
            f"a number from 1 to {locations}",
        )
    slow = raw.get("slow", {})
    threshold = slow.get("threshold", "") if slow.get("enabled", True) else ""
    seconds = 0.0
    if threshold != "":
        seconds = float(threshold) if isinstance(threshold, (int, float)) else parse_duration(threshold)
    cert = raw.get("cert_expiry", {})
    return ProbeAlerts(
        failing=failing.get("enabled", True),
        failing_for=failing.get("for", DEFAULT_FOR),
        min_locations=min_locations,
        failing_severity=failing.get("severity", "critical"),
        slow_threshold=str(threshold),
        slow_seconds=seconds,
        slow_for=slow.get("for", DEFAULT_SLOW_FOR),
        slow_severity=slow.get("severity", "warning"),
        cert=module_has_tls and cert.get("enabled", True),
        cert_severity=cert.get("severity", "warning"),
        labels=dict(raw.get("labels", {})),
        failing_written=_alert_written(doc, ("spec", "alerts", "failing")),
        slow_written=_alert_written(doc, ("spec", "alerts", "slow")),
    )


def _alert_written(doc: Document, path: tuple[str, ...]) -> Written:
    """What the spec says at path (an alert's own settings), with the paths of the labels every probe alert
    carries (`spec.alerts.labels`), so a template error in one is placed at the line that wrote it."""
    own = written_at(Ref(doc, path))
    shared = written_at(Ref(doc, ("spec", "alerts"))).label_paths
    return replace(own, label_paths={**shared, **own.label_paths})


def probe_from(doc: Document, default_interval: str, report: Report) -> Probe:
    """One Probe document as the model; problems go to report."""
    spec = doc.data["spec"]
    name = doc.data["metadata"]["name"]
    module = spec["module"]
    _check_targets(doc, module, spec["targets"], report)
    for key in ("http", "dns", "grpc"):
        if key in spec and key != module:
            report.error(
                doc.pos(("spec", key), key=True),
                f"{key} settings on a {module} probe",
                f"spec.{key}",
                f"settings of the probe's module ({module}) only",
            )
    if module == "dns" and "dns" not in spec:
        report.error(
            doc.pos(("spec", "module")),
            "a dns probe needs dns.query_name",
            "spec.module",
            "dns: {query_name: example.com}",
        )
    http = dict(spec.get("http", {}))
    _check_headers(doc, http.get("headers", {}), report)
    tls = spec.get("tls", {})
    has_tls = "tls" in spec  # `tls: {}` asks for the default expiry check
    if has_tls and module != "http":
        report.error(
            doc.pos(("spec", "tls"), key=True),
            f"tls expectations on a {module} probe",
            "spec.tls",
            "tls on http probes only (blackbox_exporter reports certificates there)",
        )
    if has_tls and module == "http":
        plain = [t for t in spec["targets"] if not t.startswith("https://")]
        if plain:
            report.warn(
                doc.pos(("spec", "tls"), key=True),
                f"tls expectations, but {plain[0]!r} is plain http: its certificate expiry is never measured",
                "spec.tls",
                "https:// targets",
            )
    interval = spec.get("interval", default_interval)
    timeout = spec.get("timeout", "")
    if timeout and parse_duration(timeout) > parse_duration(interval):
        report.error(
            doc.pos(("spec", "timeout")),
            f"timeout {timeout} is longer than interval {interval}",
            "spec.timeout",
            "a timeout <= the interval",
        )
    timeout = timeout or f"{effective_timeout('', interval):g}s"
    locations = tuple(Location(name=loc["name"], exporter=loc["exporter"]) for loc in spec["locations"])
    seen: set[str] = set()
    for i, loc in enumerate(locations):
        if loc.name in seen:
            report.error(
                doc.pos(("spec", "locations", i, "name")),
                f"location {loc.name!r} declared twice",
                f"spec.locations[{i}].name",
                "distinct location names",
            )
        seen.add(loc.name)
    alerts = _alerts(doc, spec.get("alerts", {}), len(locations), has_tls and module == "http", report)
    return Probe(
        name=name,
        ref=Ref(doc, ("spec",)),
        module=module,
        targets=tuple(spec["targets"]),
        interval=interval,
        timeout=timeout,
        labels=dict(spec.get("labels", {})),
        locations=locations,
        http=http,
        min_cert_days=tls.get("min_cert_days", DEFAULT_CERT_DAYS) if has_tls else 0,
        dns=dict(spec.get("dns", {})),
        grpc=dict(spec.get("grpc", {})),
        alerts=alerts,
        tls_written=_alert_written(doc, ("spec", "tls")),
    )


def build_probes(docs: list[Document], default_interval: str, report: Report) -> list[Probe]:
    """Every Probe document, in spec order; a name used twice is an error."""
    probes: list[Probe] = []
    first: dict[str, Document] = {}
    for doc in docs:
        name = doc.data["metadata"]["name"]
        if name in first:
            report.error(
                doc.pos(("metadata", "name")),
                f"probe {name!r} is declared twice (first at {first[name].pos(('metadata', 'name'))})",
                "metadata.name",
                "a unique probe name",
            )
            continue
        first[name] = doc
        probes.append(probe_from(doc, default_interval, report))
    return probes


def build_project_probes(project: Project, report: Report) -> Project:
    """The project with its Probe documents modelled (project.probes); their default interval is the Settings' one."""
    return replace(
        project, probes=build_probes(project.extra.get("Probe", []), project.settings.scrape_interval, report)
    )
