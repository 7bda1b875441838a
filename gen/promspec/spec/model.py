"""The typed spec model: validated documents turned into plain dataclasses."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..compile.promql import format_duration, parse_duration  # noqa: F401 - re-exported for callers
from ..diagnostics import Position, Report
from .loader import Document
from .schemas import DURATION, HOSTPORT, LABEL_NAME

if TYPE_CHECKING:  # built by their own modules, which import this one
    from ..catalog.backends import Backend
    from .dashboards import Dashboard
    from .probes import Probe
    from .services import Service

_HOSTPORT_RE = re.compile(HOSTPORT["pattern"])
_LABEL_RE = re.compile(LABEL_NAME["pattern"])


@dataclass(frozen=True)
class Ref:
    """Where a model object came from: its document and field path."""

    doc: Document
    path: tuple = ()

    def pos(self, *sub, key: bool = False) -> Position:
        return self.doc.pos(self.path + sub, key=key)

    def dotted(self, *sub) -> str:
        """The field path below this object as a person reads it: spec.alerts[0].expr."""
        from .loader import dotted

        return dotted(self.path + sub)

    def at(self, *sub) -> Ref:
        return Ref(self.doc, self.path + sub)

    def node(self):
        """The spec value this ref points at, as written (None when the path does not exist)."""
        node = self.doc.data
        for part in self.path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    @property
    def file(self) -> str:
        return self.doc.file


@dataclass
class MetricFamily:
    name: str
    type: str
    ref: Ref
    unit: str = ""
    help: str = ""
    labels: tuple = ()
    buckets: tuple = ()


@dataclass
class Catalog:
    name: str
    ref: Ref
    metrics: list = field(default_factory=list)
    external: list = field(default_factory=list)


@dataclass
class RecordingRule:
    record: str
    expr: str
    ref: Ref
    labels: dict = field(default_factory=dict)


@dataclass
class Alert:
    name: str
    expr: str
    ref: Ref
    for_: str = ""
    keep_firing_for: str = ""
    severity: str = "warning"
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)


@dataclass
class RuleGroup:
    """A RecordingGroup or AlertGroup document: one Prometheus rule group."""

    name: str
    kind: str
    ref: Ref
    interval: str = ""
    limit: int | None = None
    rules: list = field(default_factory=list)  # RecordingRule or Alert


@dataclass
class ScrapeJob:
    name: str
    ref: Ref
    target_groups: list = field(default_factory=list)  # [(targets tuple, labels dict)]
    file_sd: bool = False
    file_sd_refresh: str = ""
    interval: str = ""
    timeout: str = ""
    metrics_path: str = ""
    scheme: str = ""
    params: dict = field(default_factory=dict)
    honor_labels: bool | None = None
    strip_port: bool = False
    relabel: list = field(default_factory=list)
    metric_relabel: list = field(default_factory=list)
    sample_limit: int | None = None


@dataclass
class Settings:
    scrape_interval: str = "15s"
    scrape_timeout: str = ""  # unset: Prometheus uses min(10s, scrape interval)
    evaluation_interval: str = "30s"
    retention: str = "30d"
    external_labels: dict = field(default_factory=dict)
    alertmanagers: list = field(default_factory=lambda: ["localhost:9093"])
    outputs: list = field(default_factory=lambda: ["files"])  # output formats: files, kubernetes
    remote_write: list = field(default_factory=list)  # spec dicts, compiled by compile/remote_write.py
    kubernetes: dict = field(default_factory=dict)  # namespace, labels, dashboard_label
    ref: Ref | None = None
    from_env: dict = field(default_factory=dict)  # setting -> env var that set it


DEFAULT_SCRAPE_TIMEOUT = 10.0


def effective_timeout(timeout: str, interval: str) -> float:
    """Seconds a scrape may take: the explicit timeout, else Prometheus' default of min(10s, interval)."""
    return parse_duration(timeout) if timeout else min(DEFAULT_SCRAPE_TIMEOUT, parse_duration(interval))


@dataclass
class Project:
    """Everything the specs declare, ready to compile."""

    documents: list = field(default_factory=list)
    catalogs: list = field(default_factory=list)
    groups: list = field(default_factory=list)
    jobs: list = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    extra: dict = field(default_factory=dict)  # kind -> [documents] of kinds modelled elsewhere
    # Built after the core kinds (spec/services.py, spec/probes.py, spec/dashboards.py): they read catalogs.
    backends: dict[str, Backend] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    dashboards: list[Dashboard] = field(default_factory=list)  # the Dashboard documents; presets join at compile
    llm_probe_targets: dict[str, list[str]] = field(default_factory=dict)  # service -> LLM probe targets it reads


def _catalog(doc: Document) -> Catalog:
    spec = doc.data["spec"]
    ref = Ref(doc, ("spec",))
    metrics = [
        MetricFamily(
            m["name"],
            m["type"],
            ref.at("metrics", i),
            m.get("unit", ""),
            m.get("help", ""),
            tuple(m.get("labels", ())),
            tuple(m.get("buckets", ())),
        )
        for i, m in enumerate(spec.get("metrics", []))
    ]
    return Catalog(doc.name, ref, metrics, list(spec.get("external", [])))


def _group(doc: Document, report: Report | None = None) -> RuleGroup:
    spec = doc.data["spec"]
    ref = Ref(doc, ("spec",))
    common = spec.get("labels", {})
    group = RuleGroup(doc.name, doc.kind, ref, spec.get("interval", ""), spec.get("limit"))
    if doc.kind == "RecordingGroup":
        for i, r in enumerate(spec["rules"]):
            group.rules.append(
                RecordingRule(r["record"], r["expr"], ref.at("rules", i), {**common, **r.get("labels", {})})
            )
        return group
    for i, a in enumerate(spec["alerts"]):
        if "kind" in a:  # threshold, compound, ...: compiled to an expr (and defaults) the spec may override
            from ..compile.alert_kinds import compile_alert

            a = {**compile_alert(a), **a}
        annotations = dict(a.get("annotations", {}))
        for key in ("summary", "description", "runbook_url"):
            if key in a:
                annotations[key] = a[key]
        labels = {**common, **a.get("labels", {})}
        severity = alert_severity(a, common, ref.at("alerts", i), report)
        labels["severity"] = severity  # in labels too, so warning and critical twins of one name are distinct
        group.rules.append(
            Alert(
                a["name"],
                a["expr"],
                ref.at("alerts", i),
                a.get("for", ""),
                a.get("keep_firing_for", ""),
                severity,
                labels,
                annotations,
            )
        )
    return group


DEFAULT_SEVERITY = "warning"


def alert_severity(alert: dict, common: dict, ref: Ref, report: Report | None) -> str:
    """The alert's severity: its `severity` field, else its labels.severity, else the group's, else warning.

    Both the field and labels.severity with different values is an error: which one pages is not ours to guess.
    """
    field_value = alert.get("severity")
    label_value = alert.get("labels", {}).get("severity")
    conflict = field_value is not None and label_value is not None and str(field_value) != str(label_value)
    if conflict and report is not None:
        report.error(
            ref.pos("labels", "severity"),
            f"labels.severity {label_value!r} contradicts severity {field_value!r}",
            ref.dotted("labels", "severity"),
            "one severity: the severity field or labels.severity, not both with different values",
        )
    for value in (field_value, label_value, common.get("severity")):
        if value is not None:
            return str(value)
    return DEFAULT_SEVERITY


def _jobs(doc: Document) -> list[ScrapeJob]:
    jobs = []
    for i, j in enumerate(doc.data["spec"]["jobs"]):
        groups = []
        if j.get("targets"):
            groups.append((tuple(j["targets"]), dict(j.get("labels", {}))))
        for g in j.get("target_groups", []):
            groups.append((tuple(g["targets"]), {**j.get("labels", {}), **g.get("labels", {})}))
        if "slurm" in j:  # a Slurm nodelist; a bad one leaves an empty group, reported by check/slurm.py
            from ..compile.slurm import NodelistError, expand_nodelist

            try:
                hosts = expand_nodelist(j["slurm"]["nodelist"])
            except NodelistError:
                hosts = []
            groups.append(
                (
                    tuple(f"{h}:{j['slurm']['port']}" for h in hosts),
                    {**j.get("labels", {}), **j["slurm"].get("labels", {})},
                )
            )
        jobs.append(
            ScrapeJob(
                j["name"],
                Ref(doc, ("spec", "jobs", i)),
                groups,
                j.get("file_sd", False),
                j.get("file_sd_refresh", ""),
                j.get("interval", ""),
                j.get("timeout", ""),
                j.get("metrics_path", ""),
                j.get("scheme", ""),
                dict(j.get("params", {})),
                j.get("honor_labels"),
                j.get("strip_port", False),
                list(j.get("relabel", [])),
                list(j.get("metric_relabel", [])),
                j.get("sample_limit"),
            )
        )
    return jobs


ENV_PREFIX = "PROMSPEC_"
_DURATION_SETTINGS = ("scrape_interval", "scrape_timeout", "evaluation_interval", "retention")


_LABEL_ITEM_RE = re.compile(r'\s*([^=,]*?)\s*=\s*("(?:[^"\\]|\\.)*"|[^,"]*?)\s*(?:,|$)')


def _parse_labels(text: str) -> dict:
    """name=value pairs, comma-separated; a value in double quotes may hold commas (a="x,y",b=z), with
    \\" and \\\\ escaped. ValueError(the offending text) on anything else, a name given twice included."""
    out: dict = {}
    pos = 0
    while pos < len(text):
        if not text[pos:].strip(" ,"):
            break
        if text[pos] in " ,":
            pos += 1
            continue
        m = _LABEL_ITEM_RE.match(text, pos)
        if not m or not m.group(0).strip() or not _LABEL_RE.match(m.group(1)) or m.group(1) in out:
            raise ValueError(text[pos:].split(",", 1)[0].strip() if not m else m.group(0).strip(" ,"))
        value = m.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out[m.group(1)] = value
        pos = m.end()
    return out


def apply_env(settings: Settings, env: Mapping[str, str], report: Report) -> None:
    """Override settings from PROMSPEC_* variables; a bad value is an error naming the variable."""
    for name in _DURATION_SETTINGS:
        var = ENV_PREFIX + name.upper()
        if var in env:
            value = env[var].strip()
            try:
                parse_duration(value)
            except ValueError:
                report.error(Position(f"env:{var}"), f"invalid duration {value!r}", name, DURATION["x-expected"])
                continue
            setattr(settings, name, value)
            settings.from_env[name] = var
    var = ENV_PREFIX + "EXTERNAL_LABELS"
    if var in env:
        try:
            settings.external_labels = _parse_labels(env[var])
            settings.from_env["external_labels"] = var
        except ValueError as exc:
            report.error(
                Position(f"env:{var}"),
                f"invalid label {exc.args[0]!r}",
                "external_labels",
                "comma-separated name=value pairs, e.g. cluster=a,env=prod; a value holding commas in "
                'double quotes, e.g. teams="ml,infra"',
            )
    var = ENV_PREFIX + "ALERTMANAGERS"
    if var in env:
        hosts = [h.strip() for h in env[var].split(",") if h.strip()]
        bad = [h for h in hosts if not _HOSTPORT_RE.match(h)]
        if bad:
            report.error(
                Position(f"env:{var}"),
                f"invalid address {bad[0]!r}",
                "alertmanagers",
                "comma-separated host:port addresses",
            )
        else:
            settings.alertmanagers = hosts
            settings.from_env["alertmanagers"] = var


def _settings(doc: Document) -> Settings:
    spec = doc.data["spec"]
    s = Settings(ref=Ref(doc, ("spec",)))
    for name in _DURATION_SETTINGS:
        if name in spec:
            setattr(s, name, spec[name])
    s.external_labels = dict(spec.get("external_labels", {}))
    if "alertmanagers" in spec:
        s.alertmanagers = list(spec["alertmanagers"])
    s.outputs = list(spec.get("outputs", s.outputs))
    s.remote_write = [dict(r) for r in spec.get("remote_write", [])]
    s.kubernetes = dict(spec.get("kubernetes", {}))
    return s


def build_project(docs: list[Document], report: Report, env: Mapping[str, str] | None = None) -> Project:
    """Turn schema-valid documents into the model; cross-document problems go to report."""
    env = os.environ if env is None else env
    project = Project(documents=docs)
    settings_docs = []
    for doc in docs:
        kind = doc.kind
        if kind == "Catalog":
            project.catalogs.append(_catalog(doc))
        elif kind in ("RecordingGroup", "AlertGroup"):
            project.groups.append(_group(doc, report))
        elif kind == "Targets":
            project.jobs.extend(_jobs(doc))
        elif kind == "Settings":
            settings_docs.append(doc)
        else:
            project.extra.setdefault(kind, []).append(doc)
    for extra in settings_docs[1:]:
        report.error(
            extra.pos(("kind",)),
            "a second Settings document",
            "kind",
            f"one Settings document (the first is at {settings_docs[0].pos(('kind',))})",
        )
    if settings_docs:
        project.settings = _settings(settings_docs[0])
    apply_env(project.settings, env, report)
    return project
