"""Probe dashboards: blackbox probes (success by target and location, duration by phase, certificate
expiry), and client-observed TTFT beside the engine's own on LLM serving dashboards whose service has an
LLM probe SLI. Nothing is added for a project without probes, so its output stays byte-identical."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ...model.dashboards import Dashboard, Panel, Row
from ...model.project import Project
from .presets import LLM_FOLDER, RATE, _Make

PROBES_UID = "synthetic-probes"
LLM = "promspec_probe_llm_"


def _blackbox(project: Project) -> Dashboard | None:
    if not project.probes:
        return None
    m = _Make(project.probes[0].ref)
    sel = '{job=~"$job", instance=~"$instance", probe=~"$probe", location=~"$location"}'
    success = m.row(
        "Success",
        [
            m.panel(
                "Success by target and location",
                [m.q(f"probe_success{sel}", "{{instance}} from {{location}}")],
                unit="bool_on_off",
                min=0,
                max=1,
            ),
            m.panel(
                "Success ratio (window)",
                [
                    m.q(
                        f"avg by (probe, instance) (avg_over_time(probe_success{sel}[$__range]))",
                        "{{probe}} {{instance}}",
                    )
                ],
                "stat",
                unit="percentunit",
                decimals=2,
                thresholds=[(0.99, "orange"), (0.999, "green")],
            ),
        ],
    )
    duration = m.row(
        "Duration",
        [
            m.panel(
                "Probe duration", [m.q(f"probe_duration_seconds{sel}", "{{instance}} from {{location}}")], unit="s"
            ),
            m.panel(
                "HTTP duration by phase",
                [m.q(f"sum by (instance, phase) (probe_http_duration_seconds{sel})", "{{instance}} {{phase}}")],
                unit="s",
                stack=True,
            )
            if any(p.module == "http" for p in project.probes)
            else None,
        ],
    )
    certs = (
        m.row(
            "Certificates",
            [
                m.panel(
                    "Days until the certificate expires",
                    [
                        m.q(
                            f"min by (probe, instance) (probe_ssl_earliest_cert_expiry{sel} - time()) / 86400",
                            "{{instance}}",
                        )
                    ],
                    "bargauge",
                    unit="d",
                    thresholds=[(0, "red"), (14, "orange"), (30, "green")],
                ),
            ],
        )
        if any(p.min_cert_days for p in project.probes)
        else None
    )
    llm = _llm_row(m, project) if project.llm_probe_targets else None
    return m.dashboard(
        PROBES_UID,
        "Synthetic probes",
        LLM_FOLDER if llm else "probes",
        [success, duration, certs, llm],
        ["datasource", "job", "instance", "probe", "location"],
        description="What users see from outside: blackbox_exporter probes from every location.",
        tags=("probes",),
    )


def _llm_row(m: _Make, project: Project) -> Row | None:
    targets = sorted({t for ts in project.llm_probe_targets.values() for t in ts})
    sel = '{target=~"' + "|".join(targets) + '"}'
    return m.row(
        "LLM endpoints (promspec-exporter --probe.config)",
        [
            m.panel(
                "Client TTFT p95",
                [
                    m.q(
                        f"histogram_quantile(0.95, sum by (target, location, le) "
                        f"(rate({LLM}ttft_seconds_bucket{sel}[{RATE}])))",
                        "{{target}} {{location}}",
                    )
                ],
                unit="s",
            ),
            m.panel(
                "Client inter-token latency p95",
                [
                    m.q(
                        f"histogram_quantile(0.95, sum by (target, location, le) "
                        f"(rate({LLM}inter_token_latency_seconds_bucket{sel}[{RATE}])))",
                        "{{target}} {{location}}",
                    )
                ],
                unit="s",
            ),
            m.panel(
                "Probe outcomes",
                [m.q(f"sum by (target, outcome) (increase({LLM}probes_total{sel}[{RATE}]))", "{{target}} {{outcome}}")],
                unit="short",
                stack=True,
            ),
        ],
    )


def _client_ttft(dash: Dashboard, targets: Iterable[str]) -> Dashboard:
    """dash with the client-observed TTFT beside the engine's: their gap is the network and queueing in front."""
    m = _Make(dash.ref)
    sel = '{target=~"' + "|".join(sorted(targets)) + '"}'
    client = m.q(
        f"histogram_quantile(0.95, sum by (le) (rate({LLM}ttft_seconds_bucket{sel}[{RATE}])))",
        "client p95 (synthetic probe)",
    )
    server = m.s("ttft", "server p95 (engine)", quantile="0.95")
    panel: Panel = m.panel(
        "TTFT p95: client-observed vs server-observed",
        [server, client],
        unit="s",
        description="Client: promspec-exporter's LLM probe through the load balancer; server: "
        "the engine's histogram. The gap is network, TLS, auth and queueing in front.",
    )
    row = m.row("Client-observed (synthetic probe)", [panel])
    return dash if row is None else replace(dash, rows=[*dash.rows, row])


def probe_dashboards(project: Project, dashboards: list[Dashboard]) -> list[Dashboard]:
    """dashboards, the LLM serving ones with the client TTFT panel added, then the probes dashboard (when
    there are probes)."""
    out = []
    for dash in dashboards:
        targets = project.llm_probe_targets.get(getattr(dash, "service", ""), [])
        if (
            targets
            and dash.uid.startswith("llm-service-")
            and any(q.signal == "ttft" for r in dash.rows for p in r.panels for q in p.queries)
        ):
            dash = _client_ttft(dash, targets)
        out.append(dash)
    board = _blackbox(project)
    return [*out, board] if board is not None else out
