"""Service and SLO documents -> the SLO model, with every SLO-specific check and its position."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ..catalog.backends import (
    HISTOGRAM_SIGNALS,
    Backend,
    build_backend,
    catalog_families,
    engines_with,
    underscored,
)
from ..compile.promql import matcher, number_text, selector
from ..diagnostics import Report, did_you_mean
from .loader import Document, dotted
from .model import Catalog, MetricFamily, Project, Ref, parse_duration

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
SHORT_WINDOW = "5m"


@dataclass
class Tier:
    name: str
    long: str
    short: str
    share: Decimal
    severity: str
    enabled: bool = True
    for_: str = ""
    labels: dict = field(default_factory=dict)
    burn_rate: str = ""  # overrides the factor derived from share and window
    annotations: dict = field(default_factory=dict)


@dataclass
class SLO:
    service: str
    name: str
    ref: Ref
    objective_text: str
    objective: Decimal
    window: str
    sli_kind: str  # "ratio", "latency" or "native"
    errors_expr: str
    total_expr: str
    description: str = ""
    backend: str = ""
    signal: str = ""
    threshold: str = ""
    tiers: list = field(default_factory=list)
    exhausted: Tier | None = None
    min_traffic: str = ""
    labels: dict = field(default_factory=dict)
    runbook_url: str = ""
    alert_name: str = ""  # prefix of the alert names; CamelCase service + SLO when empty
    annotations: dict = field(default_factory=dict)
    # "sloth": Sloth's alert names, labels and series (foreign input keeps its identity).
    conventions: str = "promspec"
    series_labels: dict = field(default_factory=dict)  # on every series and alert (Sloth's SLO labels)
    denominator_corrected: bool = False
    errors_template: str = ""  # the SLI queries with {{window}} kept: Sloth records each window from them
    total_template: str = ""
    sloth_spec: str = ""  # the Sloth spec version it came from (sloth_slo_info's sloth_spec)

    @property
    def id(self) -> str:
        return f"{self.service}-{self.name}"

    @property
    def budget(self) -> Decimal:
        return 1 - self.objective

    def factor(self, tier: Tier) -> Decimal:
        """Burn rate that spends tier.share of the budget in the tier's long window."""
        if tier.burn_rate:
            return Decimal(tier.burn_rate)
        return tier.share * Decimal(int(parse_duration(self.window))) / Decimal(int(parse_duration(tier.long)))


@dataclass
class Service:
    name: str
    ref: Ref
    labels: dict = field(default_factory=dict)
    backend: str = ""
    slos: list = field(default_factory=list)


def le_values(bound: float) -> list[str]:
    """Spellings of a bucket bound in `le`: Go clients and Prometheus 2 write 1, Python and Prometheus 3 1.0."""
    python = repr(float(bound))
    short = python.removesuffix(".0")
    return sorted({short, python}, key=len)


def le_matcher(bound: float) -> str:
    values = le_values(bound)
    return matcher("le", values[0]) if len(values) == 1 else matcher("le", "|".join(values), "=~")


def _objective(doc: Document, path: tuple, raw, report: Report) -> tuple[str, Decimal] | None:
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


def _threshold_seconds(doc: Document, path: tuple, raw) -> tuple[str, float]:
    if isinstance(raw, str):
        return raw, parse_duration(raw)
    return doc.raw.get(path, str(raw)), float(raw)


def _merge_alerting(base: dict, override: dict) -> dict:
    merged = {**base, **{k: v for k, v in override.items() if k != "tiers"}}
    tiers = {name: {**base.get("tiers", {}).get(name, {}), **override.get("tiers", {}).get(name, {})} for name in TIERS}
    merged["tiers"] = tiers
    merged["labels"] = {**base.get("labels", {}), **override.get("labels", {})}
    merged["annotations"] = {**base.get("annotations", {}), **override.get("annotations", {})}
    return merged


class _Builder:
    """Builds services from documents, reporting problems with positions."""

    def __init__(self, project: Project, report: Report, allow_unknown_buckets: bool):
        self.project = project
        self.report = report
        self.allow_unknown_buckets = allow_unknown_buckets
        self.backends: dict[str, Backend] = {}
        self.families: dict[str, MetricFamily] = {}

    def backends_from(self, docs: list[Document]) -> None:
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
            self.backends[backend.name] = backend
            self.project.catalogs.append(
                Catalog(name=f"backend:{backend.name}", ref=Ref(doc, ("spec",)), metrics=catalog_families(backend))
            )
        for catalog in self.project.catalogs:
            for m in catalog.metrics:
                self.families.setdefault(m.name, m)

    def service(self, doc: Document) -> Service:
        spec = doc.data["spec"]
        meta = doc.data["metadata"]
        service = Service(doc.name, Ref(doc, ("spec",)), dict(meta.get("labels", {})), spec.get("backend", ""))
        backend = None
        if service.backend:
            backend = self.backends.get(service.backend)
            if backend is None:
                from ..catalog.bundled import bundled_backends

                known = sorted(set(self.backends) | set(bundled_backends()))
                hint = did_you_mean(service.backend, known)
                self.report.error(
                    doc.pos(("spec", "backend")),
                    f"unknown backend {service.backend!r}{hint}",
                    "spec.backend",
                    "one of " + (", ".join(known) or "(no Backend declared)"),
                )
        for i, raw in enumerate(spec["slos"]):
            slo = self.slo(doc, ("spec", "slos", i), raw, service, backend)
            if slo is not None:
                service.slos.append(slo)
        return service

    def _selector_labels(self, spec: dict, backend: Backend | None) -> dict:
        labels = {}
        for key, value in spec.get("selector", {}).items():
            # `model` is the canonical name; each engine calls it something else (model_name, ...).
            labels[backend.model_label if backend and key == "model" else key] = value
        return labels

    def slo(self, doc: Document, path: tuple, raw: dict, service: Service, backend: Backend | None) -> SLO | None:
        report = self.report
        spec = doc.data["spec"]
        objective = _objective(doc, path + ("objective",), raw["objective"], report)
        window = raw.get("window", DEFAULT_WINDOW)
        alerting = _merge_alerting(spec.get("alerting", {}), raw.get("alerting", {}))
        tiers = []
        for name, (long, short, share, severity) in TIERS.items():
            conf = alerting["tiers"][name]
            burn = ""
            if "burn_rate" in conf:
                at = path + ("alerting", "tiers", name, "burn_rate")
                burn = (
                    doc.raw.get(at)
                    or doc.raw.get(("spec", "alerting", "tiers", name, "burn_rate"))
                    or repr(conf["burn_rate"])
                )
            tiers.append(
                Tier(
                    name,
                    long,
                    short,
                    share,
                    conf.get("severity", severity),
                    conf.get("enabled", True),
                    conf.get("for", ""),
                    dict(conf.get("labels", {})),
                    burn,
                    dict(conf.get("annotations", {})),
                )
            )
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
        sli = self.sli(doc, path + ("sli",), raw["sli"], spec, backend)
        if objective is None or sli is None:
            return None
        kind, errors, total, signal, threshold = sli
        exhausted_conf = alerting.get("budget_exhausted", {})
        # With every burn alert disabled, the SLO alerts on nothing unless budget_exhausted says so.
        exhausted = Tier(
            "budget-exhausted",
            window,
            window,
            Decimal(1),
            exhausted_conf.get("severity", "ticket"),
            exhausted_conf.get("enabled", bool(enabled)),
            exhausted_conf.get("for", "5m"),
            dict(exhausted_conf.get("labels", {})),
        )
        min_traffic = ""
        if "min_traffic" in alerting:
            min_traffic = self._raw_number(doc, path, raw, alerting["min_traffic"])
        conventions = spec.get("conventions", "promspec")
        if conventions == "sloth":
            return self._sloth_slo(doc, path, raw, service, objective, window, errors, total, tiers, alerting)
        if (raw["sli"].get("ratio") or {}).get("denominator_corrected"):
            where = path + ("sli", "ratio", "denominator_corrected")
            report.error(
                doc.pos(where),
                "denominator_corrected is rendered only with conventions: sloth",
                dotted(where),
                "spec.conventions: sloth, or remove denominator_corrected",
            )
            return None
        return SLO(
            service.name,
            raw["name"],
            Ref(doc, path),
            objective[0],
            objective[1],
            window,
            kind,
            errors,
            total,
            raw.get("description", ""),
            backend.name if backend else "",
            signal,
            threshold,
            tiers,
            exhausted,
            min_traffic,
            {**service.labels, **raw.get("labels", {}), **alerting["labels"]},
            alerting.get("runbook_url", ""),
            alerting.get("alert_name", ""),
            dict(alerting.get("annotations", {})),
        )

    def _sloth_slo(
        self,
        doc: Document,
        path: tuple,
        raw: dict,
        service: Service,
        objective: tuple,
        window: str,
        errors: str,
        total: str,
        tiers: list,
        alerting: dict,
    ) -> SLO | None:
        """An SLO rendered as Sloth renders it: one alert per page/ticket pair of tiers, sloth_* labels."""
        ratio = raw["sli"].get("ratio")
        if ratio is None or "errors" not in ratio:
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
        return SLO(
            service.name,
            raw["name"],
            Ref(doc, path),
            objective[0],
            objective[1],
            window,
            "ratio",
            errors,
            total,
            raw.get("description", ""),
            tiers=tiers,
            exhausted=None,
            labels=dict(alerting["labels"]),
            alert_name=alerting.get("alert_name", ""),
            annotations=dict(alerting.get("annotations", {})),
            conventions="sloth",
            series_labels={**service.labels, **raw.get("labels", {})},
            denominator_corrected=bool(raw["sli"]["ratio"].get("denominator_corrected", False)),
            errors_template=ratio["errors"].strip(),
            total_template=ratio["total"].strip(),
            sloth_spec=str((doc.data["metadata"].get("annotations") or {}).get(SLOTH_SPEC_ANNOTATION, "")),
        )

    def _raw_number(self, doc: Document, path: tuple, raw: dict, value) -> str:
        for where in (path + ("alerting", "min_traffic"), ("spec", "alerting", "min_traffic")):
            if where in doc.raw:
                return doc.raw[where]
        return repr(value)

    def sli(self, doc: Document, path: tuple, raw: dict, spec: dict, backend: Backend | None):
        """(kind, errors expr, total expr, signal, threshold text) for the 5m window, or None."""
        report = self.report
        chosen = [k for k in ("signal", "ratio", "latency") if k in raw]
        if len(chosen) != 1:
            report.error(
                doc.pos(path),
                f"an SLI needs exactly one of signal, ratio or latency (found {', '.join(chosen) or 'none'})",
                dotted(path),
                "one of signal, ratio or latency",
            )
            return None
        if "ratio" in raw:
            ratio = raw["ratio"]
            if ("errors" in ratio) == ("good" in ratio):
                report.error(
                    doc.pos(path + ("ratio",)),
                    "a ratio SLI needs exactly one of errors or good",
                    dotted(path + ("ratio",)),
                    "errors: <PromQL> or good: <PromQL>, and total: <PromQL>",
                )
                return None
            total = ratio["total"].replace("{{window}}", SHORT_WINDOW).strip()
            if "errors" in ratio:
                errors = ratio["errors"].replace("{{window}}", SHORT_WINDOW).strip()
            else:
                errors = f"({total}) - ({ratio['good'].replace('{{window}}', SHORT_WINDOW).strip()})"
            return "ratio", errors, total, "", ""
        labels = self._selector_labels(spec, backend)
        if "latency" in raw:
            lat = raw["latency"]
            text, seconds = _threshold_seconds(doc, path + ("latency", "threshold"), lat["threshold"])
            family = self.families.get(lat["metric"])
            buckets = tuple(lat.get("buckets", ())) or (family.buckets if family else ())
            return self._latency(
                doc,
                path + ("latency",),
                lat["metric"],
                lat.get("native", False),
                buckets,
                labels,
                lat.get("matchers", ""),
                text,
                seconds,
                "",
            )
        signal = raw["signal"]
        where = path + ("signal",)
        if backend is None:
            if not spec.get("backend"):
                report.error(
                    doc.pos(where),
                    f"signal {signal!r} needs the service's backend",
                    dotted(where),
                    "spec.backend: the engine that serves this service (e.g. vllm)",
                )
            return None
        version = spec.get("backend_version", "")
        variant = backend.variant(signal, version)
        if variant is None:
            have = engines_with(signal, self.backends)
            which = f" in version {version or backend.default_version}" if backend.signals.get(signal) else ""
            report.error(
                doc.pos(where),
                f"backend {backend.name!r} has no signal {signal!r}{which}",
                dotted(where),
                "a signal it exposes; engines with it: " + (", ".join(have) or "none"),
            )
            return None
        rename = spec.get("colons_as_underscores", False)
        metric = underscored(variant.metric, backend) if rename else variant.metric
        if signal in HISTOGRAM_SIGNALS:
            if "threshold" not in raw:
                report.error(
                    doc.pos(path),
                    f"latency signal {signal!r} needs a threshold",
                    dotted(path),
                    "threshold: a latency such as 500ms",
                )
                return None
            text, seconds = _threshold_seconds(doc, path + ("threshold",), raw["threshold"])
            # Some engines (Triton) count milliseconds: compare and match bounds in the metric's unit.
            scale = 1000.0 if variant.unit == "milliseconds" else 1.0
            return self._latency(
                doc,
                path,
                metric,
                variant.native,
                variant.buckets,
                labels,
                variant.matchers,
                text,
                seconds * scale,
                signal,
                ("threshold",),
            )
        if signal == "errors":
            requests = backend.variant("requests", version)
            if requests is None:
                report.error(
                    doc.pos(where),
                    f"backend {backend.name!r} has errors but no requests signal",
                    dotted(where),
                    "a Backend with both errors and requests",
                )
                return None
            total_metric = underscored(requests.metric, backend) if rename else requests.metric
            errors = f"sum(rate({metric}{selector(labels, variant.matchers)}[{SHORT_WINDOW}]))"
            total = f"sum(rate({total_metric}{selector(labels, requests.matchers)}[{SHORT_WINDOW}]))"
            return "ratio", errors, total, signal, ""
        report.error(
            doc.pos(where),
            f"signal {signal!r} ({variant.type}) cannot be an SLI",
            dotted(where),
            "errors, or a latency signal with a threshold: " + ", ".join(HISTOGRAM_SIGNALS),
        )
        return None

    def _latency(
        self, doc, path, metric, native, buckets, labels, matchers, text, seconds, signal, threshold_at=("threshold",)
    ):
        where = path + threshold_at
        sel = selector(labels, matchers)
        if native:
            hist = f"sum(rate({metric}{sel}[{SHORT_WINDOW}]))"
            total = f"histogram_count({hist})"
            errors = f"{total} * (1 - histogram_fraction(0, {seconds!r}, {hist}))"
            return "native", errors, total, signal, text
        if not buckets and not self.allow_unknown_buckets:
            self.report.error(
                doc.pos(where),
                f"the bucket bounds of {metric!r} are unknown",
                dotted(where),
                "buckets: [...] in the SLI or the metric's Catalog entry",
            )
            return None
        if buckets and not any(abs(b - seconds) < 1e-9 for b in buckets):
            # The bounds either side of the threshold: the two a user chooses between.
            near = [
                b
                for b in (
                    max((b for b in buckets if b < seconds), default=None),
                    min((b for b in buckets if b > seconds), default=None),
                )
                if b is not None
            ]
            self.report.error(
                doc.pos(where),
                f"threshold {text} is not a bucket bound of {metric}",
                dotted(where),
                "one of its bounds, nearest: " + ", ".join(number_text(Decimal(repr(b))) for b in sorted(near)),
            )
            return None
        good_sel = selector(labels, ",".join(p for p in (matchers, le_matcher(seconds)) if p))
        total = f"sum(rate({metric}_count{sel}[{SHORT_WINDOW}]))"
        errors = f"{total} - sum(rate({metric}_bucket{good_sel}[{SHORT_WINDOW}]))"
        return "latency", errors, total, signal, text


def build_services(project: Project, report: Report, allow_unknown_buckets: bool = False) -> None:
    """Model the Backend and Service documents of a project (in project.backends / project.services)."""
    builder = _Builder(project, report, allow_unknown_buckets)
    builder.backends_from(project.extra.get("Backend", []))
    project.backends = builder.backends
    project.services = []
    names: dict = {}
    by_name: dict[str, tuple[Service, str]] = {}
    for doc in project.extra.get("Service", []):
        service = builder.service(doc)
        conventions = doc.data["spec"].get("conventions", "promspec")
        if service.name in names:
            first, first_conventions = by_name[service.name]
            if conventions == first_conventions == "sloth":
                # Sloth lets one service's SLOs live in several files: they are one service.
                _add_slos(first, service.slos, report)
                continue
            report.error(
                doc.pos(("metadata", "name")),
                f"duplicate Service {service.name!r}",
                "metadata.name",
                f"a unique name (first at {names[service.name]})",
            )
            continue
        names[service.name] = doc.pos(("metadata", "name"))
        slos, service.slos = service.slos, []
        _add_slos(service, slos, report)
        by_name[service.name] = (service, conventions)
        project.services.append(service)


def _add_slos(service: Service, slos: list, report: Report) -> None:
    """Append SLOs to a service; a name it already has is an error naming both places."""
    seen = {slo.name: slo for slo in service.slos}
    for slo in slos:
        if slo.name in seen:
            report.error(
                slo.ref.pos("name"),
                f"duplicate SLO {slo.name!r} in service {service.name!r} (first at {seen[slo.name].ref.pos('name')})",
                dotted(slo.ref.path + ("name",)),
                "a unique SLO name per service",
            )
            continue
        seen[slo.name] = slo
        service.slos.append(slo)
