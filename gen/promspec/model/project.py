"""The typed spec model: validated documents turned into keyword-only, frozen dataclasses.

Every record keeps a Ref to where it was written, so that checks report positions without reading the
documents again. Project too is frozen: each later model step (probes, services, dashboards, the topology)
returns a new Project with its records added (pipeline.load_model).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..compile.promql import format_duration, parse_duration  # noqa: F401 - re-exported for callers
from ..diagnostics import Position, Report
from .loader import Document
from .schemas import DURATION, HOSTPORT, LABEL_NAME

if TYPE_CHECKING:  # built by their own modules, which import this one
    from ..alert_kinds import AlertKind
    from ..backends.adapter import Backend
    from ..fleet.model import Topology
    from .dashboards import Dashboard
    from .notifications import Notifications
    from .probes import Probe
    from .services import Service

_HOSTPORT_RE = re.compile(HOSTPORT["pattern"])
_LABEL_RE = re.compile(LABEL_NAME["pattern"])

SpecPath = tuple[str | int, ...]  # a field path such as ("spec", "rules", 0, "expr")
Labels = dict[str, str]
# A relabel rule as written (the Prometheus relabel_config keys); compiled as it is.
RelabelRule = dict[str, Any]


@dataclass(frozen=True)
class Ref:
    """Where a model object came from: its document and field path."""

    doc: Document
    path: SpecPath = ()

    def pos(self, *sub: str | int, key: bool = False) -> Position:
        return self.doc.pos(self.path + sub, key=key)

    def dotted(self, *sub: str | int) -> str:
        """The field path below this object as a person reads it: spec.alerts[0].expr."""
        from .loader import dotted

        return str(dotted(self.path + sub))

    def at(self, *sub: str | int) -> Ref:
        return Ref(self.doc, self.path + sub)

    def node(self) -> Any:
        """The spec value this ref points at, as written (None when the path does not exist)."""
        node: Any = self.doc.data
        for part in self.path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    @property
    def file(self) -> str:
        return str(self.doc.file)


@dataclass(frozen=True, kw_only=True)
class MetricFamily:
    name: str
    type: str
    ref: Ref
    unit: str = ""
    help: str = ""
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Catalog:
    name: str
    ref: Ref
    metrics: list[MetricFamily] = field(default_factory=list)
    external: list[str] = field(default_factory=list)  # names or regexes of series the catalog vouches for


@dataclass(frozen=True, kw_only=True)
class SpecText:
    """A string as written in a spec, at path: a piece of PromQL a rule was built from."""

    path: SpecPath
    text: str


@dataclass(frozen=True, kw_only=True)
class Written:
    """What a spec says where a generated rule points (an SLI, an SLO, a probe's alert), recorded while the
    model is built: checks place an error in it without reading the document again."""

    texts: tuple[SpecText, ...] = ()  # every string below, in document order: the queries an SLI was built from
    label_paths: Mapping[str, SpecPath] = field(default_factory=dict)  # each key of its labels: mapping
    annotation_paths: Mapping[str, SpecPath] = field(default_factory=dict)  # annotations: keys, summary:, ...


def _strings_under(node: object, path: SpecPath) -> list[SpecText]:
    if isinstance(node, str):
        return [SpecText(path=path, text=node)]
    if isinstance(node, dict):
        return [text for key, value in node.items() for text in _strings_under(value, path + (key,))]
    if isinstance(node, list):
        return [text for i, value in enumerate(node) for text in _strings_under(value, path + (i,))]
    return []


def written_at(ref: Ref) -> Written:
    """What is written at ref (nothing when the path does not exist), for the rules generated from it."""
    return written_of(ref.node(), ref.path)


def written_of(node: object, path: SpecPath, texts: tuple[SpecText, ...] | None = None) -> Written:
    """What written_at says of node, the value at path; texts: its strings when the caller has them already
    (a part of an enclosing value's texts), so a subtree is not walked twice."""
    if texts is None:
        texts = tuple(_strings_under(node, path))
    if not isinstance(node, dict):
        return Written(texts=texts)
    labels = node.get("labels") or {}
    annotations = node.get("annotations") or {}
    annotation_paths = {k: path + ("annotations", k) for k in annotations}
    annotation_paths.update({k: path + (k,) for k in _ANNOTATION_FIELDS if k in node})
    return Written(
        texts=texts,
        label_paths={k: path + ("labels", k) for k in labels},
        annotation_paths=annotation_paths,
    )


@dataclass(frozen=True, kw_only=True)
class RecordingRule:
    record: str
    expr: str
    ref: Ref
    labels: Labels = field(default_factory=dict)
    # Where each label was written (absent: inherited, e.g. from the group); checks point there.
    # None: a rule generated from another kind (an SLO, a probe), whose builder does not record them.
    label_paths: Mapping[str, SpecPath] | None = None
    # The spec text expr was built from, where a check blames a name in it. None: not recorded (a rule
    # generated from an SLI; check/semantic.py then searches origin's strings).
    sources: list[SpecText] | None = None
    # A rule generated from another kind (an SLI, an SLO, a probe): what is written where ref points.
    origin: Written | None = None


@dataclass(frozen=True, kw_only=True)
class Alert:
    name: str
    expr: str
    ref: Ref
    for_: str = ""
    keep_firing_for: str = ""
    severity: str = "warning"
    labels: Labels = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    # Where each label and annotation was written (absent: inherited or generated); checks point there.
    # None: an alert generated from another kind (an SLO, a probe), whose builder does not record them.
    label_paths: Mapping[str, SpecPath] | None = None
    annotation_paths: Mapping[str, SpecPath] | None = None
    # As RecordingRule.sources; also None for an alert of a kind (check/alert_kinds.py finds its fragments).
    sources: list[SpecText] | None = None
    origin: Written | None = None  # as RecordingRule.origin
    kind: AlertKind | None = None  # threshold, compound, ...: what the alert was written as (expr is its rendering)


Rule = RecordingRule | Alert


@dataclass(frozen=True, kw_only=True)
class RuleGroup:
    """A RecordingGroup or AlertGroup document: one Prometheus rule group."""

    name: str
    kind: str
    ref: Ref
    interval: str = ""
    limit: int | None = None
    rules: list[Rule] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class TargetGroup:
    """One static_configs entry: targets and the labels they all carry."""

    targets: tuple[str, ...]
    labels: Labels = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SlurmNodes:
    """A scrape job's targets from a Slurm nodelist (gpu[001-064]) on one port."""

    nodelist: str
    port: int
    ref: Ref  # the slurm: mapping
    labels: Labels = field(default_factory=dict)  # the job's labels and the nodelist's own


@dataclass(frozen=True, kw_only=True)
class KubernetesMonitor:
    """How a scrape job becomes a prometheus-operator ServiceMonitor or PodMonitor."""

    monitor: str = "ServiceMonitor"
    selector: Labels = field(default_factory=dict)  # empty: app.kubernetes.io/name=<job name>
    port: str = "metrics"
    namespaces: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ScrapeJob:
    name: str
    ref: Ref
    target_groups: list[TargetGroup] = field(default_factory=list)
    file_sd: bool = False
    file_sd_refresh: str = ""
    interval: str = ""
    timeout: str = ""
    metrics_path: str = ""
    scheme: str = ""
    params: dict[str, list[str]] = field(default_factory=dict)
    honor_labels: bool | None = None
    strip_port: bool = False
    relabel: list[RelabelRule] = field(default_factory=list)
    metric_relabel: list[RelabelRule] = field(default_factory=list)
    sample_limit: int | None = None
    slurm: SlurmNodes | None = None  # its target group is the last of target_groups
    kubernetes: KubernetesMonitor = field(default_factory=KubernetesMonitor)


@dataclass(frozen=True, kw_only=True)
class BasicAuth:
    username: str
    password_file: str = ""
    password: str | None = None  # None: unset; only an environment placeholder passes the checks


@dataclass(frozen=True, kw_only=True)
class RemoteWrite:
    """One Settings.remote_write queue; credentials only by file or placeholder (check/notifications.py)."""

    url: str
    ref: Ref
    name: str = ""
    remote_timeout: str = ""
    bearer_token_file: str = ""
    bearer_token: str | None = None  # None: unset; any written value is kept for the credential check
    basic_auth: BasicAuth | None = None
    headers: dict[str, str] | None = None
    write_relabel: list[RelabelRule] = field(default_factory=list)
    send_exemplars: bool | None = None


DEFAULT_DASHBOARD_LABEL = "grafana_dashboard"


@dataclass(frozen=True, kw_only=True)
class KubernetesOptions:
    """Settings.kubernetes: where the prometheus-operator resources go and what marks them."""

    namespace: str = ""
    labels: Labels = field(default_factory=dict)  # every custom resource carries them
    dashboard_label: str = DEFAULT_DASHBOARD_LABEL  # the Grafana sidecar's label


def _default_alertmanagers() -> list[str]:
    return ["localhost:9093"]


def _default_outputs() -> list[str]:
    return ["files"]


@dataclass(frozen=True, kw_only=True)
class Settings:
    scrape_interval: str = "15s"
    scrape_timeout: str = ""  # unset: Prometheus uses min(10s, scrape interval)
    evaluation_interval: str = "30s"
    retention: str = "30d"
    external_labels: Labels = field(default_factory=dict)
    alertmanagers: list[str] = field(default_factory=_default_alertmanagers)
    outputs: list[str] = field(default_factory=_default_outputs)  # output formats: files, kubernetes
    remote_write: list[RemoteWrite] = field(default_factory=list)
    kubernetes: KubernetesOptions = field(default_factory=KubernetesOptions)
    ref: Ref | None = None
    from_env: dict[str, str] = field(default_factory=dict)  # setting -> env var that set it


DEFAULT_SCRAPE_TIMEOUT = 10.0


def effective_timeout(timeout: str, interval: str) -> float:
    """Seconds a scrape may take: the explicit timeout, else Prometheus' default of min(10s, interval)."""
    return float(parse_duration(timeout) if timeout else min(DEFAULT_SCRAPE_TIMEOUT, parse_duration(interval)))


@dataclass(frozen=True, kw_only=True)
class Project:
    """Everything the specs declare, ready to compile.

    build_project() models the core kinds; the later steps (model/probes.py, compile/probes_project.py,
    model/services.py, model/dashboards.py, fleet/model.py) each return a copy with their records added.
    """

    documents: list[Document] = field(default_factory=list)
    catalogs: list[Catalog] = field(default_factory=list)
    groups: list[RuleGroup] = field(default_factory=list)
    jobs: list[ScrapeJob] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    notifications: list[Notifications] = field(default_factory=list)  # in file order; one is allowed
    extra: dict[str, list[Document]] = field(default_factory=dict)  # kind -> documents of kinds modelled elsewhere
    # Built after the core kinds (model/services.py, model/probes.py, model/dashboards.py): they read catalogs.
    backends: dict[str, Backend] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    dashboards: list[Dashboard] = field(default_factory=list)  # the Dashboard documents; presets join at compile
    llm_probe_targets: dict[str, list[str]] = field(default_factory=dict)  # service -> LLM probe targets it reads
    topology: Topology | None = None  # the fleet's clusters and global tier (fleet/model.py), if declared


def _catalog(doc: Document) -> Catalog:
    spec = doc.data["spec"]
    ref = Ref(doc, ("spec",))
    metrics = [
        MetricFamily(
            name=m["name"],
            type=m["type"],
            ref=ref.at("metrics", i),
            unit=m.get("unit", ""),
            help=m.get("help", ""),
            labels=tuple(m.get("labels", ())),
            buckets=tuple(m.get("buckets", ())),
        )
        for i, m in enumerate(spec.get("metrics", []))
    ]
    return Catalog(name=doc.name, ref=ref, metrics=metrics, external=list(spec.get("external", [])))


_ANNOTATION_FIELDS = ("summary", "description", "runbook_url")


def _group(doc: Document, report: Report | None = None) -> RuleGroup:
    spec = doc.data["spec"]
    ref = Ref(doc, ("spec",))
    common = spec.get("labels", {})
    # Labels a rule does not set itself are the group's, written at spec.labels.
    common_paths: dict[str, SpecPath] = {k: ("spec", "labels", k) for k in common}
    rules: list[Rule] = []
    if doc.kind == "RecordingGroup":
        for i, r in enumerate(spec["rules"]):
            rref = ref.at("rules", i)
            own = r.get("labels", {})
            rules.append(
                RecordingRule(
                    record=r["record"],
                    expr=r["expr"],
                    ref=rref,
                    labels={**common, **own},
                    label_paths={**common_paths, **{k: rref.path + ("labels", k) for k in own}},
                    sources=[SpecText(path=rref.path + ("expr",), text=r["expr"])],
                )
            )
    else:
        for i, written in enumerate(spec["alerts"]):
            aref = ref.at("alerts", i)
            a = written
            kind = None
            if "kind" in a:  # threshold, compound, ...: its record gives the expr (and defaults) the spec may override
                from ..alert_kinds import build_kind, kind_defaults

                kind = build_kind(a, aref)
                given = kind_defaults(kind)
                defaults = {"expr": given.expr, **({"for": given.for_} if given.for_ else {})}
                if "summary" not in (a.get("annotations") or {}):  # the spec's annotations.summary is the spec's word
                    defaults["summary"] = given.summary
                a = {**defaults, **a}
            annotations = dict(a.get("annotations", {}))
            annotation_paths: dict[str, SpecPath] = {
                k: aref.path + ("annotations", k) for k in written.get("annotations", {})
            }
            for key in _ANNOTATION_FIELDS:
                if key in a:
                    annotations[key] = a[key]
                if key in written:
                    annotation_paths[key] = aref.path + (key,)
            own = written.get("labels", {})
            labels = {**common, **a.get("labels", {})}
            severity = alert_severity(a, common, aref, report)
            labels["severity"] = severity  # in labels too, so warning and critical twins of one name are distinct
            rules.append(
                Alert(
                    name=a["name"],
                    expr=a["expr"],
                    ref=aref,
                    for_=a.get("for", ""),
                    keep_firing_for=a.get("keep_firing_for", ""),
                    severity=severity,
                    labels=labels,
                    annotations=annotations,
                    label_paths={**common_paths, **{k: aref.path + ("labels", k) for k in own}},
                    annotation_paths=annotation_paths,
                    sources=None if "kind" in written else [SpecText(path=aref.path + ("expr",), text=a["expr"])],
                    kind=kind,
                )
            )
    return RuleGroup(
        name=doc.name, kind=doc.kind, ref=ref, interval=spec.get("interval", ""), limit=spec.get("limit"), rules=rules
    )


DEFAULT_SEVERITY = "warning"


def alert_severity(alert: Mapping[str, Any], common: Mapping[str, Any], ref: Ref, report: Report | None) -> str:
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


def _slurm(node: Mapping[str, Any], job_labels: Labels, ref: Ref) -> tuple[SlurmNodes, TargetGroup]:
    """The nodelist and its target group; a bad nodelist leaves the group empty, reported by check/slurm.py."""
    from ..compile.slurm import NodelistError, expand_nodelist

    slurm = SlurmNodes(
        nodelist=node["nodelist"], port=node["port"], ref=ref, labels={**job_labels, **node.get("labels", {})}
    )
    try:
        hosts = expand_nodelist(slurm.nodelist)
    except NodelistError:
        hosts = []
    return slurm, TargetGroup(targets=tuple(f"{h}:{slurm.port}" for h in hosts), labels=dict(slurm.labels))


def _kubernetes_monitor(node: Mapping[str, Any]) -> KubernetesMonitor:
    return KubernetesMonitor(
        monitor=node.get("monitor", "ServiceMonitor"),
        selector=dict(node.get("selector") or {}),
        port=node.get("port", "metrics"),
        namespaces=list(node.get("namespaces") or []),
    )


def _jobs(doc: Document) -> list[ScrapeJob]:
    jobs = []
    for i, j in enumerate(doc.data["spec"]["jobs"]):
        ref = Ref(doc, ("spec", "jobs", i))
        job_labels: Labels = dict(j.get("labels", {}))
        groups = []
        if j.get("targets"):
            groups.append(TargetGroup(targets=tuple(j["targets"]), labels=dict(job_labels)))
        for g in j.get("target_groups", []):
            groups.append(TargetGroup(targets=tuple(g["targets"]), labels={**job_labels, **g.get("labels", {})}))
        slurm = None
        if "slurm" in j:
            slurm, group = _slurm(j["slurm"], job_labels, ref.at("slurm"))
            groups.append(group)
        jobs.append(
            ScrapeJob(
                name=j["name"],
                ref=ref,
                target_groups=groups,
                file_sd=j.get("file_sd", False),
                file_sd_refresh=j.get("file_sd_refresh", ""),
                interval=j.get("interval", ""),
                timeout=j.get("timeout", ""),
                metrics_path=j.get("metrics_path", ""),
                scheme=j.get("scheme", ""),
                params=dict(j.get("params", {})),
                honor_labels=j.get("honor_labels"),
                strip_port=j.get("strip_port", False),
                relabel=list(j.get("relabel", [])),
                metric_relabel=list(j.get("metric_relabel", [])),
                sample_limit=j.get("sample_limit"),
                slurm=slurm,
                kubernetes=_kubernetes_monitor(j.get("kubernetes", {})),
            )
        )
    return jobs


ENV_PREFIX = "PROMSPEC_"
_DURATION_SETTINGS = ("scrape_interval", "scrape_timeout", "evaluation_interval", "retention")


_LABEL_ITEM_RE = re.compile(r'\s*([^=,]*?)\s*=\s*("(?:[^"\\]|\\.)*"|[^,"]*?)\s*(?:,|$)')


def _parse_labels(text: str) -> Labels:
    """name=value pairs, comma-separated; a value in double quotes may hold commas (a="x,y",b=z), with
    \\" and \\\\ escaped. ValueError(the offending text) on anything else, a name given twice included."""
    out: Labels = {}
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


def apply_env(settings: Settings, env: Mapping[str, str], report: Report) -> Settings:
    """settings with PROMSPEC_* variables applied; a bad value is an error naming the variable (and ignored)."""
    changes: dict[str, Any] = {}
    from_env = dict(settings.from_env)
    for name in _DURATION_SETTINGS:
        var = ENV_PREFIX + name.upper()
        if var in env:
            value = env[var].strip()
            try:
                parse_duration(value)
            except ValueError:
                report.error(Position(f"env:{var}"), f"invalid duration {value!r}", name, DURATION["x-expected"])
                continue
            changes[name] = value
            from_env[name] = var
    var = ENV_PREFIX + "EXTERNAL_LABELS"
    if var in env:
        try:
            changes["external_labels"] = _parse_labels(env[var])
            from_env["external_labels"] = var
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
            changes["alertmanagers"] = hosts
            from_env["alertmanagers"] = var
    return replace(settings, **changes, from_env=from_env) if changes else settings


def basic_auth_from(node: Mapping[str, Any] | None) -> BasicAuth | None:
    """The BasicAuth of a written basic_auth mapping (None when there is none)."""
    if node is None:
        return None
    return BasicAuth(
        username=node["username"], password_file=node.get("password_file", ""), password=node.get("password")
    )


def _remote_write(node: Mapping[str, Any], ref: Ref) -> RemoteWrite:
    return RemoteWrite(
        url=node["url"],
        ref=ref,
        name=node.get("name", ""),
        remote_timeout=node.get("remote_timeout", ""),
        bearer_token_file=node.get("bearer_token_file", ""),
        bearer_token=node.get("bearer_token"),
        basic_auth=basic_auth_from(node.get("basic_auth")),
        headers=dict(node["headers"]) if "headers" in node else None,
        write_relabel=[dict(r) for r in node.get("write_relabel", [])],
        send_exemplars=node.get("send_exemplars"),
    )


def _kubernetes_options(node: Mapping[str, Any]) -> KubernetesOptions:
    return KubernetesOptions(
        namespace=node.get("namespace", ""),
        labels=dict(node.get("labels", {})),
        dashboard_label=node.get("dashboard_label", DEFAULT_DASHBOARD_LABEL),
    )


def _settings(doc: Document) -> Settings:
    spec = doc.data["spec"]
    ref = Ref(doc, ("spec",))
    durations = {name: spec[name] for name in _DURATION_SETTINGS if name in spec}
    optional: dict[str, Any] = {}
    if "alertmanagers" in spec:
        optional["alertmanagers"] = list(spec["alertmanagers"])
    if "outputs" in spec:
        optional["outputs"] = list(spec["outputs"])
    return Settings(
        ref=ref,
        **durations,
        **optional,
        external_labels=dict(spec.get("external_labels", {})),
        remote_write=[_remote_write(r, ref.at("remote_write", i)) for i, r in enumerate(spec.get("remote_write", []))],
        kubernetes=_kubernetes_options(spec.get("kubernetes", {})),
    )


def build_project(docs: list[Document], report: Report, env: Mapping[str, str] | None = None) -> Project:
    """Turn schema-valid documents into the model; cross-document problems go to report."""
    from .notifications import build_notifications

    env = os.environ if env is None else env
    catalogs: list[Catalog] = []
    groups: list[RuleGroup] = []
    jobs: list[ScrapeJob] = []
    notifications: list[Notifications] = []
    extra: dict[str, list[Document]] = {}
    settings_docs = []
    for doc in docs:
        kind = doc.kind
        if kind == "Catalog":
            catalogs.append(_catalog(doc))
        elif kind in ("RecordingGroup", "AlertGroup"):
            groups.append(_group(doc, report))
        elif kind == "Targets":
            jobs.extend(_jobs(doc))
        elif kind == "Settings":
            settings_docs.append(doc)
        elif kind == "Notifications":
            notifications.append(build_notifications(doc))
        else:
            extra.setdefault(kind, []).append(doc)
    for second in settings_docs[1:]:
        report.error(
            second.pos(("kind",)),
            "a second Settings document",
            "kind",
            f"one Settings document (the first is at {settings_docs[0].pos(('kind',))})",
        )
    settings = _settings(settings_docs[0]) if settings_docs else Settings()
    return Project(
        documents=docs,
        catalogs=catalogs,
        groups=groups,
        jobs=jobs,
        settings=apply_env(settings, env, report),
        notifications=notifications,
        extra=extra,
    )
