"""Service and SLO documents -> the SLO model, with every SLO-specific check and its position.

The SLI of each SLO is built by its kind (model/sli/: ratio, latency, engine signal, probe); this module
owns what is common to every SLO: objective, window, alerting tiers, conventions and duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from ..backends.adapter import Backend, build_backend, catalog_families
from ..compile.promql import number_text, parse_duration, selector  # noqa: F401 - re-exported for callers
from ..diagnostics import Position, Report, did_you_mean
from .loader import Document, dotted
from .project import Catalog, MetricFamily, Project, Ref, SpecText, Written, written_at, written_of
from .sli import SLI, SLIInput, build_sli
from .sli.base import SHORT_WINDOW, Path  # noqa: F401 - SHORT_WINDOW re-exported for the compilers
from .sli.probe import PROBE_BACKEND, llm_catalog, probe_backend, reads_llm_probe

# After the SRE Workbook: (long window, short window, share of the budget spent at the threshold, severity).
TIERS = {
    "page-fast": ("1h", "5m", Decimal("0.02"), "page"),
    "page-slow": ("6h", "30m", Decimal("0.05"), "page"),
    "ticket-fast": ("1d", "2h", Decimal("0.10"), "ticket"),
    "ticket-slow": ("3d", "6h", Decimal("0.10"), "ticket"),
}
DEFAULT_WINDOW = "30d"
# The SLO periods whose alert windows Sloth defines by default.
SLOTH_PERIODS = ("30d", "28d")
# Set by the Sloth importer: the Sloth spec version a Service came from.
SLOTH_SPEC_ANNOTATION = "promspec.dev/sloth-spec"


@dataclass(frozen=True, kw_only=True)
class Tier:
    """One burn-rate alert of an SLO (or its budget-exhausted alert)."""

    name: str
    long: str
    short: str
    share: Decimal
    severity: str
    enabled: bool = True
    for_: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    burn_rate: str = ""  # overrides the factor derived from share and window
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class SLO:
    service: str
    name: str
    ref: Ref
    objective_text: str
    objective: Decimal
    window: str
    sli: SLI
    description: str = ""
    backend: str = ""
    tiers: tuple[Tier, ...] = ()
    exhausted: Tier | None = None
    min_traffic: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    runbook_url: str = ""
    alert_name: str = ""  # prefix of the alert names; CamelCase service + SLO when empty
    annotations: Mapping[str, str] = field(default_factory=dict)
    # "sloth": Sloth's alert names, labels and series (foreign input keeps its identity).
    conventions: str = "promspec"
    series_labels: Mapping[str, str] = field(default_factory=dict)  # on every series and alert (Sloth's SLO labels)
    sloth_spec: str = ""  # the Sloth spec version it came from (sloth_slo_info's sloth_spec)
    # What the SLO and its SLI say as written: where checks of the rules generated from them point.
    written: Written = field(default_factory=Written)
    sli_written: Written = field(default_factory=Written)

    @property
    def id(self) -> str:
        return f"{self.service}-{self.name}"

    @property
    def budget(self) -> Decimal:
        return 1 - self.objective

    # The SLI's fields under the names the compilers read.
    @property
    def sli_kind(self) -> str:
        return self.sli.kind

    @property
    def errors_expr(self) -> str:
        return self.sli.errors

    @property
    def total_expr(self) -> str:
        return self.sli.total

    @property
    def signal(self) -> str:
        return self.sli.signal

    @property
    def threshold(self) -> str:
        return self.sli.threshold

    @property
    def denominator_corrected(self) -> bool:
        return self.sli.denominator_corrected

    @property
    def errors_template(self) -> str:
        """The errors query with {{window}} kept ("" unless an errors/total SLI)."""
        return self.sli.window_queries.errors if self.sli.window_queries else ""

    @property
    def total_template(self) -> str:
        return self.sli.window_queries.total if self.sli.window_queries else ""

    def factor(self, tier: Tier) -> Decimal:
        """Burn rate that spends tier.share of the budget in the tier's long window."""
        return burn_factor(window=self.window, long=tier.long, share=tier.share, burn_rate=tier.burn_rate)


def burn_factor(*, window: str, long: str, share: Decimal, burn_rate: str) -> Decimal:
    """SLO.factor from the values it reads, for a caller that keys a cache on them (compile/slo.py)."""
    if burn_rate:
        return Decimal(burn_rate)
    return share * Decimal(int(parse_duration(window))) / Decimal(int(parse_duration(long)))


@dataclass(frozen=True, kw_only=True)
class Service:
    name: str
    ref: Ref
    labels: Mapping[str, str] = field(default_factory=dict)
    backend: str = ""
    backend_version: str = ""
    selector: Mapping[str, str] = field(default_factory=dict)  # as written: `model` is the canonical name
    colons_as_underscores: bool = False  # the scrape path rewrites the engine's vllm: to vllm_
    conventions: str = "promspec"
    slos: tuple[SLO, ...] = ()

    def selector_for(self, backend: Backend) -> dict[str, str]:
        """The selector in the engine's spelling: `model` becomes its model label (model_name, ...)."""
        return {backend.model_label if key == "model" else key: value for key, value in self.selector.items()}


def _objective(doc: Document, path: Path, raw: object, report: Report) -> tuple[str, Decimal] | None:
    text = doc.raw.get(path, str(raw))
    value = Decimal(text[:-1]) / 100 if isinstance(raw, str) else Decimal(text)  # "99.9%" or 0.999
    if value >= 1:
        hint = f"; write {text}% or 0.{text.replace('.', '')}" if not isinstance(raw, str) and value > 1 else ""
        report.error(
            doc.pos(path),
            f"objective {text} leaves no error budget (100% or more){hint}",
            dotted(path),
            "an objective below 100%, such as 99.9% or 0.999",
        )
        return None
    if value <= 0:
        report.error(doc.pos(path), f"objective {text} is not above 0", dotted(path), "an objective such as 99.9%")
        return None
    return text, value


@dataclass(frozen=True, kw_only=True)
class _SLOWritten:
    """What an SLO says as written, and its SLI."""

    slo: Written
    sli: Written


def _slo_written(scope: _ServiceScope, path: Path, raw: Mapping[str, Any]) -> _SLOWritten:
    """What the SLO at path says as written, with the label and annotation paths of the alerting it renders:
    the service's `alerting`, overridden by the SLO's own (the order of _merge_alerting), so an error in one of
    those labels or annotations is placed at the line that wrote it. And what its SLI says, the part of the
    SLO's texts under sli (the SLO's are in document order, so the SLI's are one run of them)."""
    own = written_of(raw, path)
    alerting_path, sli_path = path + ("alerting",), path + ("sli",)
    slo = written_of(raw.get("alerting"), alerting_path, _texts_under(own.texts, alerting_path))
    return _SLOWritten(
        # built, not dataclasses.replace()d: replace() reads every field back and checks it, for each of 3,000 SLOs
        slo=Written(
            texts=own.texts,
            label_paths={**own.label_paths, **scope.alerting.label_paths, **slo.label_paths},
            annotation_paths={**own.annotation_paths, **scope.alerting.annotation_paths, **slo.annotation_paths},
        ),
        sli=written_of(raw.get("sli"), sli_path, _texts_under(own.texts, sli_path)),
    )


def _texts_under(texts: tuple[SpecText, ...], path: Path) -> tuple[SpecText, ...]:
    """The texts at path or below it, of an enclosing value's texts (in document order, so one run of them):
    the subtree is not walked again."""
    depth = len(path)
    return tuple(t for t in texts if t.path[:depth] == path)


def _merge_alerting(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**base, **{k: v for k, v in override.items() if k != "tiers"}}
    tiers = {name: {**base.get("tiers", {}).get(name, {}), **override.get("tiers", {}).get(name, {})} for name in TIERS}
    merged["tiers"] = tiers
    merged["labels"] = {**base.get("labels", {}), **override.get("labels", {})}
    merged["annotations"] = {**base.get("annotations", {}), **override.get("annotations", {})}
    return merged


def _tiers(doc: Document, path: Path, alerting: Mapping[str, Any]) -> tuple[Tier, ...]:
    tiers = []
    for name, (long, short, share, severity) in TIERS.items():
        conf = alerting["tiers"][name]
        burn = ""
        if "burn_rate" in conf:
            burn = (
                doc.raw.get(path + ("alerting", "tiers", name, "burn_rate"))
                or doc.raw.get(("spec", "alerting", "tiers", name, "burn_rate"))
                or repr(conf["burn_rate"])
            )
        tiers.append(
            Tier(
                name=name,
                long=long,
                short=short,
                share=share,
                severity=conf.get("severity", severity),
                enabled=conf.get("enabled", True),
                for_=conf.get("for", ""),
                labels=dict(conf.get("labels", {})),
                burn_rate=burn,
                annotations=dict(conf.get("annotations", {})),
            )
        )
    return tuple(tiers)


@dataclass(frozen=True, kw_only=True)
class _ServiceScope:
    """What every SLO of one Service document reads: the document, its backend, the selector in its spelling."""

    doc: Document
    spec: Mapping[str, Any]
    backend: Backend | None
    selector: Mapping[str, str]
    alerting: Written  # what the service's `alerting` says, read by each of its SLOs


class _Builder:
    """Builds services from documents, reporting problems with positions."""

    def __init__(self, project: Project, report: Report, allow_unknown_buckets: bool):
        self.project = project
        self.catalogs: list[Catalog] = []  # the backends' catalogs, in the order the backends were added
        self.report = report
        self.allow_unknown_buckets = allow_unknown_buckets
        self.backends: dict[str, Backend] = {}
        self.families: dict[str, MetricFamily] = {}
        self.probe_names = tuple(p.name for p in project.probes)

    def backends_from(self, docs: list[Document], synthesised: list[Backend]) -> None:
        for doc in docs:
            backend = build_backend(doc)
            if backend.name in self.backends:
                self.report.error(
                    doc.pos(("metadata", "name")),
                    f"duplicate Backend {backend.name!r}",
                    "metadata.name",
                    "one Backend document per engine",
                )
                continue
            self._add_backend(backend)
        for backend in synthesised:
            self._add_backend(backend)
        for catalog in self.project.catalogs + self.catalogs:
            for m in catalog.metrics:
                self.families.setdefault(m.name, m)

    def _add_backend(self, backend: Backend) -> None:
        self.backends[backend.name] = backend
        self.catalogs.append(
            Catalog(name=f"backend:{backend.name}", ref=backend.ref, metrics=catalog_families(backend))
        )

    def service(self, doc: Document) -> Service:
        spec = doc.data["spec"]
        meta = doc.data["metadata"]
        name = spec.get("backend", "")
        backend = None
        if name:
            backend = self.backends.get(name)
            if backend is None:
                from ..backends.bundled import bundled_backends

                known = sorted(set(self.backends) | set(bundled_backends()))
                hint = did_you_mean(name, known)
                self.report.error(
                    doc.pos(("spec", "backend")),
                    f"unknown backend {name!r}{hint}",
                    "spec.backend",
                    "one of " + (", ".join(known) or "(no Backend declared)"),
                )
        service = Service(
            name=doc.name,
            ref=Ref(doc, ("spec",)),
            labels=dict(meta.get("labels", {})),
            backend=name,
            backend_version=str(spec.get("backend_version", "")),
            selector={key: str(value) for key, value in spec.get("selector", {}).items()},
            colons_as_underscores=bool(spec.get("colons_as_underscores", False)),
            conventions=spec.get("conventions", "promspec"),
        )
        scope = _ServiceScope(
            doc=doc,
            spec=spec,
            backend=backend,
            # `model` is the canonical name; each engine calls it something else (model_name, ...).
            selector=service.selector_for(backend) if backend else dict(spec.get("selector", {})),
            alerting=written_at(Ref(doc, ("spec", "alerting"))),
        )
        slos = (self.slo(scope, ("spec", "slos", i), raw, service) for i, raw in enumerate(spec["slos"]))
        return _with_slos(service, tuple(slo for slo in slos if slo is not None))

    def slo(self, scope: _ServiceScope, path: Path, raw: Mapping[str, Any], service: Service) -> SLO | None:
        report, doc, spec = self.report, scope.doc, scope.spec
        objective = _objective(doc, path + ("objective",), raw["objective"], report)
        window = raw.get("window", DEFAULT_WINDOW)
        alerting = _merge_alerting(spec.get("alerting", {}), raw.get("alerting", {}))
        tiers = _tiers(doc, path, alerting)
        enabled = [t for t in tiers if t.enabled]
        if enabled:
            longest = max(enabled, key=lambda t: parse_duration(t.long))
            if parse_duration(window) < parse_duration(longest.long):
                where = path + ("window",) if "window" in raw else path
                report.error(
                    doc.pos(where),
                    f"window {window} is shorter than the longest alert window {longest.long} (tier {longest.name})",
                    dotted(where),
                    f"a window of at least {longest.long}, or disable tier {longest.name}",
                )
        sli = build_sli(
            SLIInput(
                doc=doc,
                path=path + ("sli",),
                raw=raw["sli"],
                report=report,
                selector=scope.selector,
                backend=scope.backend,
                backend_named=bool(spec.get("backend")),
                backend_version=service.backend_version,
                colons_as_underscores=service.colons_as_underscores,
                backends=self.backends,
                families=self.families,
                probe_names=self.probe_names,
                allow_unknown_buckets=self.allow_unknown_buckets,
            )
        )
        if objective is None or sli is None:
            return None
        exhausted_conf = alerting.get("budget_exhausted", {})
        # With every burn alert disabled, the SLO alerts on nothing unless budget_exhausted says so.
        exhausted = Tier(
            name="budget-exhausted",
            long=window,
            short=window,
            share=Decimal(1),
            severity=exhausted_conf.get("severity", "ticket"),
            enabled=exhausted_conf.get("enabled", bool(enabled)),
            for_=exhausted_conf.get("for", "5m"),
            labels=dict(exhausted_conf.get("labels", {})),
        )
        min_traffic = ""
        if "min_traffic" in alerting:
            min_traffic = self._raw_number(doc, path, alerting["min_traffic"])
        if service.conventions == "sloth":
            return self._sloth_slo(scope, path, raw, service, objective, window, sli, tiers, alerting)
        if sli.denominator_corrected:
            where = path + ("sli", "ratio", "denominator_corrected")
            report.error(
                doc.pos(where),
                "denominator_corrected is rendered only with conventions: sloth",
                dotted(where),
                "spec.conventions: sloth, or remove denominator_corrected",
            )
            return None
        written = _slo_written(scope, path, raw)
        return SLO(
            service=service.name,
            name=raw["name"],
            ref=Ref(doc, path),
            objective_text=objective[0],
            objective=objective[1],
            window=window,
            sli=sli,
            description=raw.get("description", ""),
            backend=scope.backend.name if scope.backend else "",
            tiers=tiers,
            exhausted=exhausted,
            min_traffic=min_traffic,
            labels={**service.labels, **raw.get("labels", {}), **alerting["labels"]},
            runbook_url=alerting.get("runbook_url", ""),
            alert_name=alerting.get("alert_name", ""),
            annotations=dict(alerting.get("annotations", {})),
            written=written.slo,
            sli_written=written.sli,
        )

    def _sloth_slo(
        self,
        scope: _ServiceScope,
        path: Path,
        raw: Mapping[str, Any],
        service: Service,
        objective: tuple[str, Decimal],
        window: str,
        sli: SLI,
        tiers: tuple[Tier, ...],
        alerting: Mapping[str, Any],
    ) -> SLO | None:
        """An SLO rendered as Sloth renders it: one alert per page/ticket pair of tiers, sloth_* labels."""
        doc = scope.doc
        if sli.window_queries is None:
            self.report.error(
                doc.pos(path + ("sli",)),
                "conventions: sloth needs a ratio SLI with errors and total",
                dotted(path + ("sli",)),
                "sli.ratio.errors and sli.ratio.total (Sloth's events SLI)",
            )
            return None
        if window not in SLOTH_PERIODS:
            where = path + ("window",) if "window" in raw else path
            self.report.error(
                doc.pos(where),
                f"conventions: sloth supports a 30d or 28d window, not {window}",
                dotted(where),
                "window: 30d or 28d (Sloth's default windows)",
            )
            return None
        for extra in ("min_traffic", "budget_exhausted", "runbook_url"):
            for where in (path + ("alerting", extra), ("spec", "alerting", extra)):
                if where in doc.positions:
                    self.report.error(
                        doc.pos(where),
                        f"{extra} is a promspec convention, not rendered with conventions: sloth",
                        dotted(where),
                        "spec.conventions: promspec to adopt it, or remove it",
                    )
                    return None
        for name in TIERS:
            for where in (
                path + ("alerting", "tiers", name, "severity"),
                ("spec", "alerting", "tiers", name, "severity"),
            ):
                if where in doc.positions:
                    self.report.error(
                        doc.pos(where),
                        "with conventions: sloth the severity is the label sloth_severity (page or ticket)",
                        dotted(where),
                        "a label under alerting.labels or the tier's labels",
                    )
                    return None
        for kind in ("page", "ticket"):
            fast, slow = (t for t in tiers if t.name in (f"{kind}-fast", f"{kind}-slow"))
            if (fast.enabled, fast.labels, fast.annotations, fast.for_) != (
                slow.enabled,
                slow.labels,
                slow.annotations,
                slow.for_,
            ):
                where = path + ("alerting", "tiers", slow.name)
                self.report.error(
                    doc.pos(where) if where in doc.positions else doc.pos(path),
                    f"conventions: sloth renders {kind}-fast and {kind}-slow as one alert: their "
                    "enabled, for, labels and annotations must agree",
                    dotted(where),
                    f"the same settings on {kind}-fast and {kind}-slow",
                )
                return None
        written = _slo_written(scope, path, raw)
        return SLO(
            service=service.name,
            name=raw["name"],
            ref=Ref(doc, path),
            objective_text=objective[0],
            objective=objective[1],
            window=window,
            # Sloth reads the SLI as written: the probe and signal fields it came from are promspec's.
            sli=SLI(
                kind="ratio",
                errors=sli.errors,
                total=sli.total,
                window_queries=sli.window_queries,
                denominator_corrected=sli.denominator_corrected,
                llm_probe_target=sli.llm_probe_target,
            ),
            description=raw.get("description", ""),
            tiers=tiers,
            exhausted=None,
            labels=dict(alerting["labels"]),
            alert_name=alerting.get("alert_name", ""),
            annotations=dict(alerting.get("annotations", {})),
            conventions="sloth",
            series_labels={**service.labels, **raw.get("labels", {})},
            sloth_spec=str((doc.data["metadata"].get("annotations") or {}).get(SLOTH_SPEC_ANNOTATION, "")),
            written=written.slo,
            sli_written=written.sli,
        )

    def _raw_number(self, doc: Document, path: Path, value: object) -> str:
        for where in (path + ("alerting", "min_traffic"), ("spec", "alerting", "min_traffic")):
            text = doc.raw.get(where)  # one walk of the node tree, not `in` and then `[]`
            if text is not None:
                return str(text)
        return repr(value)


def _with_slos(service: Service, slos: tuple[SLO, ...]) -> Service:
    from dataclasses import replace

    return replace(service, slos=slos)


def _probe_backends(users: list[Document], declared: list[Document]) -> list[Backend]:
    """The synthesised `probe` Backend, for the first Service that names it when no document declares one."""
    if users and not any(d.name == PROBE_BACKEND for d in declared):
        return [probe_backend(users[0])]
    return []


def _llm_catalog_ref(docs: list[Document]) -> Ref | None:
    """Where the first SLI that reads an LLM probe target is: the LLM probe's catalog is positioned there."""
    for doc in docs:
        for i, slo in enumerate(doc.data.get("spec", {}).get("slos", [])):
            if isinstance(slo, dict) and reads_llm_probe(slo.get("sli")):
                return Ref(doc, ("spec", "slos", i, "sli"))
    return None


def build_services(project: Project, report: Report, allow_unknown_buckets: bool = False) -> Project:
    """The project with its Backend and Service documents modelled (project.backends / project.services), and
    the catalogs they bring (each backend's, the LLM probe's)."""
    service_docs: list[Document] = project.extra.get("Service", [])
    backend_docs: list[Document] = project.extra.get("Backend", [])
    users = [d for d in service_docs if d.data.get("spec", {}).get("backend") == PROBE_BACKEND]
    llm_ref = _llm_catalog_ref(service_docs)
    if llm_ref is not None and not users:
        # With `backend: probe` the probe backend's catalog holds these series; otherwise they need their own.
        project = replace(project, catalogs=project.catalogs + [llm_catalog(llm_ref)])
    synthesised = _probe_backends(users, backend_docs)
    builder = _Builder(project, report, allow_unknown_buckets)
    builder.backends_from(backend_docs, synthesised)
    first_at: dict[str, Position] = {}
    merged: dict[str, Service] = {}  # name -> the service so far (Sloth's files of one service merge)
    for doc in service_docs:
        service = builder.service(doc)
        if service.name in first_at:
            first = merged[service.name]
            if service.conventions == first.conventions == "sloth":
                # Sloth lets one service's SLOs live in several files: they are one service.
                merged[service.name] = _with_slos(first, first.slos + _unique(first.slos, service, report))
                continue
            report.error(
                doc.pos(("metadata", "name")),
                f"duplicate Service {service.name!r}",
                "metadata.name",
                f"a unique name (first at {first_at[service.name]})",
            )
            continue
        first_at[service.name] = doc.pos(("metadata", "name"))
        merged[service.name] = _with_slos(service, _unique((), service, report))
    services = list(merged.values())
    return replace(
        project,
        catalogs=project.catalogs + builder.catalogs,
        backends=builder.backends,
        services=services,
        llm_probe_targets=llm_probe_targets(services),
    )


def llm_probe_targets(services: list[Service]) -> dict[str, list[str]]:
    """Service name -> the LLM probe targets its SLIs read, in SLO order."""
    out: dict[str, list[str]] = {}
    for service in services:
        for slo in service.slos:
            if slo.sli.llm_probe_target:
                known = out.setdefault(service.name, [])
                if slo.sli.llm_probe_target not in known:
                    known.append(slo.sli.llm_probe_target)
    return out


def _unique(have: tuple[SLO, ...], service: Service, report: Report) -> tuple[SLO, ...]:
    """The service's SLOs whose names are new; a name seen already is an error naming both places."""
    seen = {slo.name: slo for slo in have}
    out = []
    for slo in service.slos:
        if slo.name in seen:
            report.error(
                slo.ref.pos("name"),
                f"duplicate SLO {slo.name!r} in service {service.name!r} (first at {seen[slo.name].ref.pos('name')})",
                dotted(slo.ref.path + ("name",)),
                "a unique SLO name per service",
            )
            continue
        seen[slo.name] = slo
        out.append(slo)
    return tuple(out)
