"""Probe model -> blackbox.yml modules, scrape jobs, alert rules and their promtool tests (pure)."""

from __future__ import annotations

from typing import Any, TypedDict

from ..model.probes import Probe
from ..model.project import (
    Alert,
    Catalog,
    Labels,
    MetricFamily,
    Ref,
    RelabelRule,
    RuleGroup,
    ScrapeJob,
    TargetGroup,
)
from .promql import format_duration, parse_duration
from .slo_tests import InputSeries

# blackbox.yml and its modules are plain YAML data: their key order is the output's.
Config = dict[str, Any]


class AlertExpectation(TypedDict):
    """One alert promtool expects firing: its labels and annotations, templates expanded."""

    exp_labels: Labels
    exp_annotations: dict[str, str]


class AlertRuleTest(TypedDict):
    eval_time: str
    alertname: str
    exp_alerts: list[AlertExpectation]


class AlertTestGroup(TypedDict):
    """One promtool test group of `alert_rule_test`s."""

    name: str
    interval: str
    input_series: list[InputSeries]
    alert_rule_test: list[AlertRuleTest]


# The blackbox_exporter series the probe alerts and dashboard read (labels besides the target labels).
BLACKBOX_METRICS = (
    ("probe_success", "gauge", ()),
    ("probe_duration_seconds", "gauge", ()),
    ("probe_http_duration_seconds", "gauge", ("phase",)),
    ("probe_http_status_code", "gauge", ()),
    ("probe_ssl_earliest_cert_expiry", "gauge", ()),
    ("probe_dns_lookup_time_seconds", "gauge", ()),
)
PROBER = {"http": "http", "tcp": "tcp", "icmp": "icmp", "dns": "dns", "grpc": "grpc"}


def job_name(probe: Probe, location: str) -> str:
    """One scrape job per probe and location: each location is its own blackbox_exporter."""
    return f"probe-{probe.name}-{location}"


def selector(probe: Probe) -> str:
    return f'{{probe="{probe.name}"}}'


def _http_module(probe: Probe) -> Config:
    h = probe.http
    out: Config = {}
    if "method" in h:
        out["method"] = h["method"]
    if "valid_status_codes" in h:
        out["valid_status_codes"] = list(h["valid_status_codes"])
    if "body_regex" in h:
        out["fail_if_body_not_matches_regexp"] = [h["body_regex"]]
    headers = {k: v for k, v in h.get("headers", {}).items() if isinstance(v, str)}
    if headers:
        out["headers"] = dict(sorted(headers.items()))
    if "body" in h:
        out["body"] = h["body"]
    if h.get("fail_if_not_ssl"):
        out["fail_if_not_ssl"] = True
    auth_file = next((v["file"] for k, v in h.get("headers", {}).items() if isinstance(v, dict)), "")
    if auth_file:
        # The HTTP client settings sit inline in blackbox_exporter's http module (no http_client_config key).
        out["authorization"] = {"credentials_file": auth_file}
    elif "bearer_token_file" in h:
        out["authorization"] = {"type": "Bearer", "credentials_file": h["bearer_token_file"]}
    if h.get("insecure_skip_verify"):
        out["tls_config"] = {"insecure_skip_verify": True}
    out["preferred_ip_protocol"] = "ip4"
    return out


def module(probe: Probe) -> Config:
    """The blackbox.yml module of one probe (named after the probe)."""
    out: Config = {"prober": PROBER[probe.module], "timeout": probe.timeout}
    if probe.module == "http":
        out["http"] = _http_module(probe)
    elif probe.module == "tcp":
        out["tcp"] = {"preferred_ip_protocol": "ip4"}
    elif probe.module == "icmp":
        out["icmp"] = {"preferred_ip_protocol": "ip4"}
    elif probe.module == "dns":
        dns: Config = {
            "query_name": probe.dns["query_name"],
            "query_type": probe.dns.get("query_type", "A"),
            "preferred_ip_protocol": "ip4",
        }
        if "transport" in probe.dns:
            dns["transport_protocol"] = probe.dns["transport"]
        out["dns"] = dns
    elif probe.module == "grpc":
        grpc: Config = {"preferred_ip_protocol": "ip4", "tls": bool(probe.grpc.get("tls", False))}
        if probe.grpc.get("service"):
            grpc["service"] = probe.grpc["service"]
        out["grpc"] = grpc
    return out


def blackbox_config(probes: list[Probe]) -> Config:
    """blackbox/blackbox.yml: one module per probe, every location runs the same file."""
    return {"modules": {p.name: module(p) for p in sorted(probes, key=lambda p: p.name)}}


def scrape_jobs(probe: Probe) -> list[ScrapeJob]:
    """The standard blackbox relabelling: the target becomes ?target=, the exporter the address."""
    jobs = []
    for loc in probe.locations:
        labels = {**probe.labels, "probe": probe.name, "location": loc.name}
        relabel: list[RelabelRule] = [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": loc.exporter},
        ]
        jobs.append(
            ScrapeJob(
                name=job_name(probe, loc.name),
                ref=probe.ref.at("locations"),
                target_groups=[TargetGroup(targets=tuple(probe.targets), labels=labels)],
                interval=probe.interval,
                timeout=probe.timeout,
                metrics_path="/probe",
                params={"module": [probe.name]},
                relabel=relabel,
            )
        )
    return jobs


def alerts(probe: Probe) -> list[Alert]:
    """The probe's alerts: failing from M of K locations, slow, certificate expiring."""
    a = probe.alerts
    sel = selector(probe)
    k = len(probe.locations)
    out = []
    if a.failing:
        out.append(
            Alert(
                name="ProbeFailing",
                ref=probe.ref.at("alerts", "failing"),
                origin=a.failing_written,
                for_=a.failing_for,
                expr=f"count by (probe, instance) ({'probe_success' + sel} == 0) >= {a.min_locations}",
                severity=a.failing_severity,
                labels={**a.labels, "probe": probe.name},
                annotations={
                    "summary": f"Probe {{{{ $labels.probe }}}} of {{{{ $labels.instance }}}} fails from "
                    f"{{{{ $value }}}} of {k} location(s) for {a.failing_for}",
                    "description": f"blackbox_exporter ({probe.module}) sees the target fail from at least "
                    f"{a.min_locations} of {k} location(s).",
                },
            )
        )
    if a.slow_threshold:
        out.append(
            Alert(
                name="ProbeSlow",
                ref=probe.ref.at("alerts", "slow"),
                origin=a.slow_written,
                for_=a.slow_for,
                expr=f"max by (probe, instance, location) (probe_duration_seconds{sel}) > {a.slow_seconds:g}",
                severity=a.slow_severity,
                labels={**a.labels, "probe": probe.name},
                annotations={
                    "summary": f"Probe {{{{ $labels.probe }}}} of {{{{ $labels.instance }}}} from "
                    f"{{{{ $labels.location }}}} takes over {a.slow_threshold} for {a.slow_for}",
                    "description": "The whole probe (DNS, connect, TLS, request, body) is slower than the threshold.",
                },
            )
        )
    if a.cert:
        days = probe.min_cert_days
        out.append(
            Alert(
                name="ProbeCertificateExpiring",
                ref=probe.ref.at("tls"),
                origin=probe.tls_written,
                expr=f"min by (probe, instance) (probe_ssl_earliest_cert_expiry{sel} - time()) < {days * 86400}",
                severity=a.cert_severity,
                labels={**a.labels, "probe": probe.name},
                annotations={
                    "summary": f"A certificate of {{{{ $labels.instance }}}} (probe {{{{ $labels.probe }}}}) "
                    f"expires in less than {days} days",
                    "description": "The earliest expiry in the served certificate chain is closer than "
                    "tls.min_cert_days.",
                },
            )
        )
    return out


def rule_group(probe: Probe) -> RuleGroup | None:
    rules = alerts(probe)
    if not rules:
        return None
    return RuleGroup(name=f"probe-{probe.name}", kind="AlertGroup", ref=probe.ref, rules=list(rules))


def catalog(ref: Ref) -> Catalog:
    """The blackbox_exporter series as a catalog, so the semantic checks know them."""
    return Catalog(
        name="probe:blackbox",
        ref=ref,
        metrics=[
            MetricFamily(name=n, type=t, ref=ref, labels=("probe", "location", *extra))
            for n, t, extra in BLACKBOX_METRICS
        ],
    )


# --- promtool tests ---------------------------------------------------------------------------------


def _expand(template: str, labels: Labels, value: str) -> str:
    out = template.replace("{{ $value }}", value)
    for k, v in labels.items():
        out = out.replace(f"{{{{ $labels.{k} }}}}", v)
    return out


def _series(name: str, labels: Labels) -> str:
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _exp(alert: Alert, labels: Labels, value: str) -> AlertExpectation:
    return {
        "exp_labels": {**labels, "severity": alert.severity, **alert.labels},
        "exp_annotations": {k: _expand(v, labels, value) for k, v in alert.annotations.items()},
    }


def _eval_after(for_: str, step: float) -> str:
    return format_duration(parse_duration(for_ or "0s") + 2 * step)


def alert_tests(probe: Probe, step: float) -> list[AlertTestGroup]:
    """promtool tests: each alert fires under the condition it is for and stays quiet just below it."""
    instance = probe.targets[0]
    base = {"probe": probe.name, "instance": instance, "job": "probe"}
    a = probe.alerts
    # Samples until well after the latest evaluation, so no series goes stale before its alert is checked.
    longest = max(parse_duration(a.failing_for or "0s"), parse_duration(a.slow_for or "0s"))
    span = int(longest // step) + 10
    tests: list[AlertTestGroup] = []
    for alert in alerts(probe):
        if alert.name == "ProbeFailing":
            m = a.min_locations
            for failing, fires in ((m, True), (m - 1, False)):
                series: list[InputSeries] = [
                    {
                        "series": _series("probe_success", {**base, "location": loc.name}),
                        "values": f"{0 if i < failing else 1}x{span}",
                    }
                    for i, loc in enumerate(probe.locations)
                ]
                exp = [_exp(alert, {"probe": probe.name, "instance": instance}, str(m))] if fires else []
                tests.append(
                    {
                        "name": f"{alert.name} {probe.name}: {failing} of {len(probe.locations)} failing",
                        "interval": format_duration(step),
                        "input_series": series,
                        "alert_rule_test": [
                            {"eval_time": _eval_after(alert.for_, step), "alertname": alert.name, "exp_alerts": exp}
                        ],
                    }
                )
        elif alert.name == "ProbeSlow":
            loc = probe.locations[0].name
            for value, fires in ((a.slow_seconds * 1.5, True), (a.slow_seconds * 0.9, False)):
                labels = {**base, "location": loc}
                exp = [_exp(alert, {"probe": probe.name, "instance": instance, "location": loc}, "")] if fires else []
                tests.append(
                    {
                        "name": f"{alert.name} {probe.name}: {value:g}s against {a.slow_threshold}",
                        "interval": format_duration(step),
                        "input_series": [
                            {"series": _series("probe_duration_seconds", labels), "values": f"{value:g}x{span}"}
                        ],
                        "alert_rule_test": [
                            {"eval_time": _eval_after(alert.for_, step), "alertname": alert.name, "exp_alerts": exp}
                        ],
                    }
                )
        elif alert.name == "ProbeCertificateExpiring":
            days = probe.min_cert_days
            for left, fires in ((days - 1, True), (days + 1, False)):
                labels = {**base, "location": probe.locations[0].name}
                # Expiry as a Unix time: promtool's clock starts at 0, so "days left" is the value itself.
                exp = [_exp(alert, {"probe": probe.name, "instance": instance}, "")] if fires else []
                tests.append(
                    {
                        "name": f"{alert.name} {probe.name}: {left} days left, threshold {days}",
                        "interval": format_duration(step),
                        "input_series": [
                            {
                                "series": _series("probe_ssl_earliest_cert_expiry", labels),
                                "values": f"{left * 86400}x{span}",
                            }
                        ],
                        "alert_rule_test": [
                            {"eval_time": format_duration(step), "alertname": alert.name, "exp_alerts": exp}
                        ],
                    }
                )
    return tests
