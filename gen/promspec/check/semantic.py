"""Semantic checks over the whole model, before anything is written."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from ..compile.promql import Analysis, PromQLError, parse_duration, shared_analysis
from ..diagnostics import Position, Report, did_you_mean
from ..model.project import (
    Alert,
    Project,
    RecordingRule,
    Ref,
    Rule,
    RuleGroup,
    Settings,
    SpecPath,
    effective_timeout,
)

# Where each expression fails to parse, (line, col, message) inside it, or None: check/tools.py asks promtool.
Locate = Callable[[list[str]], list[tuple[int, int, str] | None]]

# Series every Prometheus server has, whatever it scrapes.
BUILTIN_SERIES = {
    "up": ("job", "instance"),
    "scrape_duration_seconds": ("job", "instance"),
    "scrape_samples_scraped": ("job", "instance"),
    "scrape_samples_post_metric_relabeling": ("job", "instance"),
    "scrape_series_added": ("job", "instance"),
    "ALERTS": ("alertname", "alertstate", "severity"),
    "ALERTS_FOR_STATE": ("alertname", "severity"),
}
TARGET_LABELS = ("job", "instance")
HIGH_CARDINALITY = re.compile(
    r"^(request_?id|req_?id|user_?id|user|trace_?id|span_?id|session_?id|conversation_?id|correlation_?id|"
    r"prompt|email|client_ip|remote_addr|ip|url|path_raw)$"
)
_SUFFIXES = {
    "counter": ("", "_created"),
    "histogram": ("", "_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gaugehistogram": ("", "_bucket", "_gsum", "_gcount"),
}


class Universe:
    """The series the specs know of: sample name -> allowed labels (None: unknown labels)."""

    def __init__(self, project: Project):
        self.labels: dict[str, set[str] | None] = {n: set(names) for n, names in BUILTIN_SERIES.items()}
        self.external: list[re.Pattern[str]] = []
        extra_labels = set(TARGET_LABELS)
        for job in project.jobs:
            for group in job.target_groups:
                extra_labels.update(group.labels)
            for rule in job.relabel:
                if rule.get("target_label"):
                    extra_labels.add(rule["target_label"])
        self.target_labels = extra_labels
        for catalog in project.catalogs:
            for m in catalog.metrics:
                for suffix in _SUFFIXES.get(m.type, ("",)):
                    allowed = set(m.labels) | extra_labels
                    if suffix == "_bucket":
                        allowed.add("le")
                    if m.type == "summary" and suffix == "":
                        allowed.add("quantile")
                    self.labels[m.name + suffix] = allowed
                if m.type == "counter" and not m.name.endswith("_total"):
                    self.labels[m.name + "_total"] = set(m.labels) | extra_labels
            for pattern in catalog.external:
                self.external.append(
                    re.compile(
                        pattern if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", pattern) else re.escape(pattern)
                    )
                )

    def is_external(self, name: str) -> bool:
        return any(p.fullmatch(name) for p in self.external)

    def known(self, name: str) -> bool:
        return name in self.labels or self.is_external(name)


def _expr_error(report: Report, rule: Rule, field: str, message: str, expected: str, needle: str = "") -> None:
    from ..model.loader import dotted

    pos, path = _needle_pos(rule, field, needle)
    report.error(pos, message, dotted(path), expected)


def _needle_pos(rule: Rule, field: str, needle: str) -> tuple[Position, SpecPath]:
    """Position and field path of the first whole-word occurrence of needle in the PromQL a rule came from."""
    ref = rule.ref
    if rule.sources is not None:
        direct = [(source.path, source.text) for source in rule.sources]
    else:
        from .alert_kinds import expr_sources  # alert kinds build expr from several fields

        direct = [(source.path, source.text) for source in expr_sources(rule, field)]
    # A rule generated from an SLI has no expr field of its own: search the queries it was built
    # from, and failing that blame the SLI itself (never a path that exists in no file).
    origin = [(text.path, text.text) for text in rule.origin.texts] if rule.origin else []
    for path, expr in direct or origin:
        found = ref.doc.pos_of_word(path, expr, needle)
        if found:
            return found, path
    path = direct[0][0] if direct else ref.path
    return ref.doc.pos(path), path


def _record_labels(groups: list[RuleGroup], universe: Universe, analyses: dict[int, Analysis]) -> None:
    """Give recorded series the union of their inputs' labels (a safe over-approximation)."""
    # By rule, not by group kind: an adopted rule file's group mixes recording and alerting rules.
    rules = [r for g in groups for r in g.rules if isinstance(r, RecordingRule)]
    for rule in rules:
        universe.labels.setdefault(rule.record, set())
    # A step's outcome depends only on the universe and on (record, label names, analysis): generated rules
    # repeat a few such classes thousands of times. `version` counts changes to the universe, so a class
    # stepped again with no change since its last step would change nothing, and is skipped: the passes
    # below make exactly the changes of stepping every rule, in the same order. Each rule's class is found
    # once, as a number (the keys live in `classes`, one per class; no lasting object per rule, which would
    # cost the cyclic GC full collections), and the passes read only those numbers.
    classes: dict[tuple[str, tuple[str, ...], int], int] = {}
    class_of = [
        classes.setdefault((rule.record, tuple(rule.labels), id(analyses.get(id(rule)))), len(classes))
        for rule in rules
    ]
    version = 0
    stepped_at = [-1] * len(classes)
    for _ in range(8):  # rules may read rules; a few passes reach the fixed point
        changed = False
        for rule, c in zip(rules, class_of, strict=True):
            if stepped_at[c] == version:
                continue
            if _step_record(rule, universe, analyses.get(id(rule))):
                changed = True
                version += 1
            stepped_at[c] = version
        if not changed:
            break


def _step_record(rule: RecordingRule, universe: Universe, a: Analysis | None) -> bool:
    """One step of the fixed point for one recording rule: whether it changed the universe."""
    current = universe.labels.get(rule.record)
    if current is None:
        return False
    new: set[str] | None = None  # None: the labels cannot be known
    if a is not None and not a.name_regexes:
        known = set(rule.labels) | a.produced_labels
        for name in a.metrics:
            got = universe.labels.get(name)
            if got is None:
                break
            known |= got
        else:
            new = known
    if new is None or not new <= current:
        universe.labels[rule.record] = None if new is None else current | new
        return True
    return False


def check_project(project: Project, groups: list[RuleGroup], report: Report, locate: Locate | None = None) -> None:
    """Run every semantic check over the project and its rule groups (spec and generated); locate(exprs)
    may map parse errors to line:col inside expressions."""
    universe = Universe(project)
    analyses: dict[int, Analysis] = {}
    failures: list[tuple[Rule, str]] = []  # (rule, message)
    by_expr: dict[str, Analysis] = {}  # SLOs repeat whole expressions (vector(1), their objectives)
    for group in groups:
        for rule in group.rules:
            a = by_expr.get(rule.expr)
            if a is None:
                try:
                    a = by_expr[rule.expr] = shared_analysis(rule.expr)
                except PromQLError as exc:
                    failures.append((rule, str(exc)))
                    continue
            analyses[id(rule)] = a
    _report_parse_errors(failures, report, locate)
    _record_labels(groups, universe, analyses)
    _check_names(groups, report)
    settings = project.settings
    eval_interval = parse_duration(settings.evaluation_interval)
    read_findings: dict[int, list[_ReadFinding]] = {}  # by id() of an analysis, which `analyses` keeps alive
    flagged_by_names: dict[tuple[str, ...], list[str]] = {}
    for name in ("evaluation_interval", "scrape_interval"):
        # Zero would divide every generated test's timing by zero; Prometheus refuses it too.
        if parse_duration(getattr(settings, name)) <= 0:
            report.error(
                _setting_pos(settings, name),
                f"{name} {getattr(settings, name)} is not longer than 0s",
                f"spec.{name}",
                "a duration longer than 0s, such as 30s",
            )
    if effective_timeout(settings.scrape_timeout, settings.scrape_interval) > parse_duration(settings.scrape_interval):
        report.error(
            _setting_pos(settings, "scrape_timeout"),
            f"scrape_timeout {settings.scrape_timeout} is longer than scrape_interval {settings.scrape_interval}",
            "spec.scrape_timeout",
            "a timeout <= the interval",
        )
    for group in groups:
        interval = parse_duration(group.interval) if group.interval else eval_interval
        if group.interval and interval <= 0:
            report.error(
                group.ref.pos("interval"),
                f"interval {group.interval} is not longer than 0s",
                group.ref.dotted("interval"),
                "a duration longer than 0s, such as 1m",
            )
        for rule in group.rules:
            a = analyses.get(id(rule))
            if a is not None:
                # The universe is final here, so what an analysis reads is found once per analysis (rules
                # of one shape share theirs) and reported at each rule.
                findings = read_findings.get(id(a))
                if findings is None:
                    findings = read_findings[id(a)] = _read_findings(a, universe)
                if findings:
                    _report_reads(rule, findings, report)
            if isinstance(rule, Alert) and rule.for_:
                seconds = parse_duration(rule.for_)
                if 0 < seconds < interval:
                    report.error(
                        rule.ref.pos("for"),
                        f"for: {rule.for_} is shorter than the evaluation interval "
                        f"{group.interval or settings.evaluation_interval}",
                        rule.ref.dotted("for"),
                        "0s, or a duration of at least one evaluation interval",
                    )
            # Rules repeat a few sets of label names: each set is matched once.
            names = tuple(rule.labels)
            flagged = flagged_by_names.get(names)
            if flagged is None:
                flagged = flagged_by_names[names] = [label for label in names if _high_cardinality(label)]
            for label in flagged:
                _flag_cardinality(label, rule.ref, ("labels",), report)
    for catalog in project.catalogs:
        if catalog.name.startswith("backend:"):
            continue  # an engine's labels are facts about the engine, not choices made in these specs
        for m in catalog.metrics:
            for i, label in enumerate(m.labels):
                _flag_cardinality(label, m.ref, ("labels", i), report)
    _check_jobs(project, report)
    _check_templates(groups, report)


def _setting_pos(settings: Settings, name: str) -> Position:
    """Where a setting came from: its PROMSPEC_* variable, its spec field, or the defaults."""
    if name in settings.from_env:
        return Position(f"env:{settings.from_env[name]}")
    return settings.ref.pos(name) if settings.ref else Position("settings")


def _flag_cardinality(label: str, ref: Ref, parts: tuple[str | int, ...], report: Report) -> None:
    # The position is looked up only for a flagged label: positions cost, and rules carry many labels.
    if _high_cardinality(label):
        report.warn(
            ref.pos(*parts),
            f"label {label!r} looks high-cardinality (one series per value)",
            ref.dotted(*parts),
            "labels with a bounded set of values; keep per-request ids in logs or traces",
        )


# Rules repeat a few label names tens of thousands of times. Only plain str is cached: a str subclass
# could compare equal to a cached name and still match differently.
def _high_cardinality(label: str) -> bool:
    if type(label) is not str:
        return _matches_high_cardinality(label)
    return _high_cardinality_cached(label)


def _matches_high_cardinality(label: str) -> bool:
    return HIGH_CARDINALITY.match(label) is not None


_high_cardinality_cached = lru_cache(maxsize=4096)(_matches_high_cardinality)


@dataclass(frozen=True, kw_only=True)
class _ReadFinding:
    """What _check_reads says of an analysis, whichever rule it is: an error (message, expected, the word
    to point at) or, with message empty, a high-cardinality label in a grouping."""

    message: str = ""
    expected: str = ""
    needle: str = ""
    label: str = ""


def _report_reads(rule: Rule, findings: list[_ReadFinding], report: Report) -> None:
    for finding in findings:
        if finding.message:
            _expr_error(report, rule, "expr", finding.message, finding.expected, finding.needle)
        else:
            _flag_cardinality(finding.label, rule.ref, ("expr",), report)


def _read_findings(a: Analysis, universe: Universe) -> list[_ReadFinding]:
    """The findings of the reads of an analysis against the universe, in the order they are reported."""
    out: list[_ReadFinding] = []
    for name in dict.fromkeys(a.metrics):
        if not universe.known(name):
            hint = did_you_mean(name, universe.labels)
            out.append(
                _ReadFinding(
                    message=f"metric {name!r} is not in any Catalog{hint}",
                    expected="a catalogued metric, a recorded series, or a name in a Catalog's external list",
                    needle=name,
                )
            )
    for grouping in a.groupings:
        if grouping.clause not in ("by", "on"):
            continue
        allowed: set[str] = set(a.produced_labels)
        unknown = False
        for name in grouping.metrics:
            labels = universe.labels.get(name)
            if labels is None:
                unknown = True
                break
            allowed |= labels
        if unknown or not grouping.metrics:
            continue
        for label in grouping.labels:
            if label not in allowed:
                metrics = ", ".join(sorted(grouping.metrics))
                out.append(
                    _ReadFinding(
                        message=f"label {label!r} in {grouping.clause}() is not a label of {metrics}",
                        expected="one of: " + ", ".join(sorted(allowed)),
                        needle=label,
                    )
                )
        out.extend(_ReadFinding(label=label) for label in grouping.labels)
    return out


def _check_names(rule_groups: list[RuleGroup], report: Report) -> None:
    groups: dict[str, RuleGroup] = {}
    rules: dict[tuple[str, str, frozenset[tuple[str, str]]], Rule] = {}
    for group in rule_groups:
        if group.name in groups:
            report.error(
                group.ref.doc.pos(("metadata", "name")),
                f"duplicate rule group name {group.name!r}",
                "metadata.name",
                f"a unique name (also used at {groups[group.name].ref.doc.pos(('metadata', 'name'))})",
            )
        else:
            groups[group.name] = group  # where it was first: looked up only for a duplicate
        for rule in group.rules:
            is_alert = isinstance(rule, Alert)
            name = rule.name if isinstance(rule, Alert) else rule.record
            # Equal label sets, whatever their order (a frozenset of items: no sort per rule).
            key = ("alert" if is_alert else "record", name, frozenset(rule.labels.items()))
            field = "name" if is_alert else "record"
            if key in rules:
                what = "alert" if is_alert else "recording rule"
                report.error(
                    rule.ref.pos(field),
                    f"duplicate {what} {name!r}",
                    rule.ref.dotted(field),
                    f"a unique name, or different labels (first defined at {rules[key].ref.pos(field)})",
                )
            else:
                rules[key] = rule  # where it was first: looked up only for a duplicate


def _check_jobs(project: Project, report: Report) -> None:
    seen: dict[str, Position] = {}
    settings = project.settings
    for job in project.jobs:
        if job.name in seen:
            report.error(
                job.ref.pos("name"),
                f"duplicate scrape job {job.name!r}",
                job.ref.dotted("name"),
                f"a unique job name (first defined at {seen[job.name]})",
            )
        seen.setdefault(job.name, job.ref.pos("name"))
        if not job.target_groups:
            report.error(
                job.ref.pos(),
                f"scrape job {job.name!r} has no targets",
                job.ref.dotted(),
                "targets: [host:port, ...] or target_groups",
            )
        interval_text = job.interval or settings.scrape_interval
        timeout = effective_timeout(job.timeout or settings.scrape_timeout, interval_text)
        if timeout > parse_duration(interval_text):
            field = "timeout" if job.timeout else "interval"
            report.error(
                job.ref.pos(field),
                f"scrape timeout {job.timeout or settings.scrape_timeout} is longer than the interval {interval_text}",
                job.ref.dotted(field),
                "timeout <= interval",
            )
        for label in (name for g in job.target_groups for name in g.labels):
            _flag_cardinality(label, job.ref, ("labels",), report)


def _report_parse_errors(failures: list[tuple[Rule, str]], report: Report, locate: Locate | None) -> None:
    if not failures:
        return
    from ..model.loader import dotted
    from .alert_kinds import (
        parse_source,  # the field of an alert kind that fails, else expr
    )

    sources = [parse_source(rule) for rule, _ in failures]
    located = locate([source.text for source in sources]) if locate else None
    for i, (rule, message) in enumerate(failures):
        path = sources[i].path
        where = located[i] if located and located[i] else None
        if where:
            line, col, detail = where
            pos = rule.ref.doc.pos_in_scalar(path, line, col)
            message = detail
        else:
            pos = rule.ref.doc.pos(path)
        report.error(pos, f"PromQL parse error: {message}", dotted(path), "a valid PromQL expression")


def _template_source(rule: Alert | RecordingRule, kind: str, key: str) -> SpecPath:
    """The spec path an alert's label or annotation was written at (its own field, else the group's)."""
    paths = rule.label_paths if kind == "labels" or isinstance(rule, RecordingRule) else rule.annotation_paths
    if paths is None:  # generated from an SLO or a probe: the field of that name on its source, if any
        origin = rule.origin
        paths = {} if origin is None else origin.label_paths if kind == "labels" else origin.annotation_paths
    if key in paths:
        return paths[key]
    return ("spec", kind, key) if kind == "labels" else rule.ref.path


def _check_templates(groups: list[RuleGroup], report: Report) -> None:
    """Alert labels and annotations are Go templates: Prometheus refuses the whole rule file over one
    that does not parse (promtool too), so a stray {{ is an error here, at its place in the spec."""
    from ..model.loader import dotted
    from .gotemplate import (
        PROMETHEUS_FUNCTIONS,
        PROMETHEUS_VARIABLES,
        TemplateError,
        check_template,
        line_col,
    )

    for group in groups:
        for rule in group.rules:
            if not isinstance(rule, Alert):
                if "__name__" in rule.labels:
                    path = _template_source(rule, "labels", "__name__")
                    report.error(
                        rule.ref.doc.pos(path, key=True),
                        "label '__name__' cannot be set by a recording rule",
                        dotted(path),
                        "a label name other than __name__ (record: names the series)",
                    )
                continue
            if "__name__" in rule.labels:  # a valid name, but Prometheus refuses the rule file over it
                path = _template_source(rule, "labels", "__name__")
                report.error(
                    rule.ref.doc.pos(path, key=True),
                    "label '__name__' cannot be set by an alert",
                    dotted(path),
                    "a label name other than __name__ (the series name is the alert's)",
                )
            for kind, values in (("labels", rule.labels), ("annotations", rule.annotations)):
                for key, text in values.items():
                    if not isinstance(text, str) or "{{" not in text:
                        continue
                    try:
                        check_template(text, PROMETHEUS_FUNCTIONS, PROMETHEUS_VARIABLES)
                    except TemplateError as exc:
                        path = _template_source(rule, kind, key)
                        pos = rule.ref.doc.pos_in_scalar(path, *line_col(text, exc.offset))
                        report.error(
                            pos,
                            f"template error in {kind[:-1]} {key!r} of alert {rule.name!r}: {exc}",
                            dotted(path),
                            "a Go template Prometheus can parse ({{ $labels.instance }}, "
                            "{{ $value | humanize }}), or {{ `{{` }} for literal braces",
                        )
