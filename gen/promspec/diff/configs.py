"""Changes to the configuration files promspec renders: prometheus.yml and its file_sd targets,
alertmanager.yml, and, field by field, every other YAML or JSON file (kubernetes/, blackbox/, rule tests)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .model import Change, Subject
from .text import leaf_changes, line_counts, load_yaml, load_yaml_docs, redact, secret, show, text_of

MAX_LEAVES = 20  # per file: past this many field changes, one line says how many more
PROMETHEUS = "prometheus/prometheus.yml"
ALERTMANAGER = "alertmanager/alertmanager.yml"


def _file_subject(path: str) -> Subject:
    return Subject(plain=path, md=f"`{path}`")


def _leaf_change(who: Subject, section: str, file: str, leaf: Any, field_prefix: str = "") -> Change:
    field = f"{field_prefix}.{leaf.path}" if field_prefix and leaf.path else (field_prefix or leaf.path)
    said = leaf.path or field  # the subject names the prefix already
    if secret(leaf.path) and not leaf.path.endswith("_file"):
        return who.change(
            section=section, file=file, change="changed", message=f"{said} changed (value not shown)", field=field
        )
    if redact(leaf.before) != leaf.before or redact(leaf.after) != leaf.after:
        return who.change(
            section=section,
            file=file,
            change="changed",
            message=f"{said} changed (secret values not shown)",
            field=field,
            before=_yaml_text(redact(leaf.before)),
            after=_yaml_text(redact(leaf.after)),
        )
    if leaf.before is None:
        kind, message = "added", f"{said} added: {show(leaf.after)}"
    elif leaf.after is None:
        kind, message = "removed", f"{said} removed (was {show(leaf.before)})"
    else:
        kind, message = "changed", f"{said} {show(leaf.before)} -> {show(leaf.after)}"
    long = any(len(text_of(v)) > 60 for v in (leaf.before, leaf.after))
    if long:
        message = f"{said} {kind}"
    return who.change(
        section=section,
        file=file,
        change=kind,
        message=message,
        field=field,
        before=_yaml_text(leaf.before),
        after=_yaml_text(leaf.after),
    )


def _yaml_text(value: Any) -> str:
    """A value as a reviewer reads it: scalars as they are, structures as block YAML."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        from ..render.yamlout import dump_yaml

        return dump_yaml(value).decode("utf-8").rstrip("\n")
    return str(value)


def _leaves(who: Subject, section: str, file: str, a: Any, b: Any, prefix: str = "") -> list[Change]:
    leaves = leaf_changes(a, b)
    out = [_leaf_change(who, section, file, leaf, prefix) for leaf in leaves[:MAX_LEAVES]]
    if len(leaves) > MAX_LEAVES:
        out.append(
            who.change(
                section=section,
                file=file,
                change="changed",
                message=f"and {len(leaves) - MAX_LEAVES} more field changes",
            )
        )
    return out


def _by_name(items: Any, key: str) -> dict[str, Any]:
    """A list of mappings keyed by one of their fields (position when it is missing)."""
    out: dict[str, Any] = {}
    for i, item in enumerate(items or []):
        name = str(item.get(key, f"#{i}")) if isinstance(item, dict) else f"#{i}"
        out[name] = item
    return out


def _named_items(
    section: str, file: str, noun: str, a: dict[str, Any], b: dict[str, Any], field: str, summary: Callable[[Any], str]
) -> list[Change]:
    out: list[Change] = []
    for name in sorted(set(a) | set(b)):
        who = Subject(plain=f"{noun} {name}", md=f"{noun} `{name}`")
        if name not in a:
            out.append(
                who.change(
                    section=section,
                    file=file,
                    change="added",
                    message="added",
                    field=f"{field}.{name}",
                    after=summary(b[name]),
                )
            )
        elif name not in b:
            out.append(
                who.change(
                    section=section,
                    file=file,
                    change="removed",
                    message="removed",
                    field=f"{field}.{name}",
                    before=summary(a[name]),
                )
            )
        else:
            out += _leaves(who, section, file, a[name], b[name], f"{field}.{name}")
    return out


# ------------------------------------------------------------------------------ prometheus.yml


def compare_prometheus(base: dict[str, bytes], head: dict[str, bytes]) -> list[Change]:
    """prometheus.yml: global settings, rule files, alerting, scrape jobs by name; file_sd targets."""
    section = "Scrape config"
    out: list[Change] = []
    a = load_yaml(base.get(PROMETHEUS, b"")) if PROMETHEUS in base else None
    b = load_yaml(head.get(PROMETHEUS, b"")) if PROMETHEUS in head else None
    if isinstance(a, dict) and isinstance(b, dict):
        who = _file_subject(PROMETHEUS)
        rest_a = {k: v for k, v in a.items() if k not in ("scrape_configs", "rule_files")}
        rest_b = {k: v for k, v in b.items() if k not in ("scrape_configs", "rule_files")}
        out += _leaves(who, section, PROMETHEUS, rest_a, rest_b)
        files_a, files_b = list(a.get("rule_files") or []), list(b.get("rule_files") or [])
        for f in files_b:
            if f not in files_a:
                out.append(
                    who.change(
                        section=section,
                        file=PROMETHEUS,
                        change="added",
                        message=f"rule file {f} added",
                        field="rule_files",
                        after=f,
                    )
                )
        for f in files_a:
            if f not in files_b:
                out.append(
                    who.change(
                        section=section,
                        file=PROMETHEUS,
                        change="removed",
                        message=f"rule file {f} removed",
                        field="rule_files",
                        before=f,
                    )
                )
        jobs_a, jobs_b = _by_name(a.get("scrape_configs"), "job_name"), _by_name(b.get("scrape_configs"), "job_name")
        for name in sorted(set(jobs_a) & set(jobs_b)):
            out += _target_moves(section, name, jobs_a[name], jobs_b[name])
        out += _named_items(
            section,
            PROMETHEUS,
            "scrape job",
            {k: _without_targets(v) for k, v in jobs_a.items()},
            {k: _without_targets(v) for k, v in jobs_b.items()},
            "scrape_configs",
            _job_summary,
        )
    out += _file_sd(base, head, section)
    return out


def _static_targets(job: Any) -> list[str]:
    configs = job.get("static_configs") if isinstance(job, dict) else None
    return [str(t) for sc in configs or [] if isinstance(sc, dict) for t in sc.get("targets") or []]


def _without_targets(job: Any) -> Any:
    """A scrape job with its static targets left out (_target_moves names them one by one)."""
    if not isinstance(job, dict) or not job.get("static_configs"):
        return job
    configs = [
        {k: v for k, v in sc.items() if k != "targets"} if isinstance(sc, dict) else sc for sc in job["static_configs"]
    ]
    return {**job, "static_configs": configs}


def _target_moves(section: str, job: str, a: Any, b: Any) -> list[Change]:
    ta, tb = _static_targets(a), _static_targets(b)
    who = Subject(plain=f"scrape job {job}", md=f"scrape job `{job}`")
    out = [
        who.change(
            section=section,
            file=PROMETHEUS,
            change="added",
            message=f"target {t} added",
            field=f"scrape_configs.{job}.targets",
            after=t,
        )
        for t in tb
        if t not in ta
    ]
    out += [
        who.change(
            section=section,
            file=PROMETHEUS,
            change="removed",
            message=f"target {t} removed",
            field=f"scrape_configs.{job}.targets",
            before=t,
        )
        for t in ta
        if t not in tb
    ]
    return out


def _job_summary(job: Any) -> str:
    if not isinstance(job, dict):
        return text_of(job)
    targets = [t for sc in job.get("static_configs") or [] for t in (sc.get("targets") or [])]
    files = [f for sd in job.get("file_sd_configs") or [] for f in (sd.get("files") or [])]
    parts = [f"{k} {job[k]}" for k in ("scrape_interval", "scrape_timeout", "metrics_path", "scheme") if k in job]
    if targets:
        parts.append("targets " + ", ".join(map(str, targets)))
    if files:
        parts.append("file_sd " + ", ".join(map(str, files)))
    return "; ".join(parts)


def _file_sd(base: dict[str, bytes], head: dict[str, bytes], section: str) -> list[Change]:
    out: list[Change] = []
    paths = sorted(p for p in set(base) | set(head) if p.startswith("prometheus/") and p.endswith(".json"))
    for path in paths:
        a, b = _targets(base.get(path)), _targets(head.get(path))
        who = _file_subject(path)
        if path not in base or path not in head:
            kind = "added" if path not in base else "removed"
            text = ", ".join(sorted(b if path not in base else a))
            out.append(
                who.change(
                    section=section,
                    file=path,
                    change=kind,
                    message=f"targets file {kind}",
                    **({"after": text} if kind == "added" else {"before": text}),
                )
            )
            continue
        for target in sorted(set(a) | set(b)):
            if target not in a:
                out.append(
                    who.change(
                        section=section,
                        file=path,
                        change="added",
                        message=f"target {target} added",
                        field="targets",
                        after=_labels(b[target]),
                    )
                )
            elif target not in b:
                out.append(
                    who.change(
                        section=section,
                        file=path,
                        change="removed",
                        message=f"target {target} removed",
                        field="targets",
                        before=_labels(a[target]),
                    )
                )
            elif a[target] != b[target]:
                out.append(
                    who.change(
                        section=section,
                        file=path,
                        change="changed",
                        message=f"target {target}: labels {_labels(a[target])} -> {_labels(b[target])}",
                        field="labels",
                        before=_labels(a[target]),
                        after=_labels(b[target]),
                    )
                )
    return out


def _targets(data: bytes | None) -> dict[str, dict[str, str]]:
    """target -> its labels, from a file_sd JSON file."""
    if data is None:
        return {}
    try:
        groups = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    out: dict[str, dict[str, str]] = {}
    for group in groups if isinstance(groups, list) else []:
        if isinstance(group, dict):
            for t in group.get("targets") or []:
                out[str(t)] = dict(group.get("labels") or {})
    return out


def _labels(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


# ------------------------------------------------------------------------------ alertmanager.yml


def compare_alertmanager(base: dict[str, bytes], head: dict[str, bytes]) -> list[Change]:
    """alertmanager.yml: global, the route tree (routes by receiver and matchers, and their order),
    receivers by name (secrets named, never shown), inhibit rules, time intervals, templates."""
    section = "Alertmanager"
    if ALERTMANAGER not in base or ALERTMANAGER not in head:
        return []
    a, b = load_yaml(base[ALERTMANAGER]), load_yaml(head[ALERTMANAGER])
    if not isinstance(a, dict) or not isinstance(b, dict):
        return []
    file = ALERTMANAGER
    who = _file_subject(file)
    out: list[Change] = []
    handled = ("route", "receivers", "inhibit_rules", "time_intervals", "mute_time_intervals")
    out += _leaves(
        who,
        section,
        file,
        {k: v for k, v in a.items() if k not in handled},
        {k: v for k, v in b.items() if k not in handled},
    )
    out += _routes(section, file, a.get("route") or {}, b.get("route") or {})
    out += _named_items(
        section,
        file,
        "receiver",
        _by_name(a.get("receivers"), "name"),
        _by_name(b.get("receivers"), "name"),
        "receivers",
        _receiver_summary,
    )
    for key in ("time_intervals", "mute_time_intervals"):
        out += _named_items(
            section, file, "time interval", _by_name(a.get(key), "name"), _by_name(b.get(key), "name"), key, text_of
        )
    ia = {json.dumps(r, sort_keys=True): r for r in a.get("inhibit_rules") or []}
    ib = {json.dumps(r, sort_keys=True): r for r in b.get("inhibit_rules") or []}
    inhibit = Subject(plain="inhibit rule", md="inhibit rule")
    for k in sorted(set(ia) | set(ib)):
        if k not in ia:
            out.append(
                inhibit.change(
                    section=section,
                    file=file,
                    change="added",
                    message="added: " + _inhibit_text(ib[k]),
                    field="inhibit_rules",
                    after=_yaml_text(ib[k]),
                )
            )
        elif k not in ib:
            out.append(
                inhibit.change(
                    section=section,
                    file=file,
                    change="removed",
                    message="removed: " + _inhibit_text(ia[k]),
                    field="inhibit_rules",
                    before=_yaml_text(ia[k]),
                )
            )
    return out


def _receiver_summary(receiver: Any) -> str:
    if not isinstance(receiver, dict):
        return text_of(receiver)
    kinds = sorted(k for k in receiver if k.endswith("_configs"))
    return ", ".join(f"{len(receiver[k] or [])} {k[: -len('_configs')]}" for k in kinds) or "no integrations"


def _inhibit_text(rule: Any) -> str:
    if not isinstance(rule, dict):
        return text_of(rule)
    src = ", ".join(map(str, rule.get("source_matchers") or []))
    dst = ", ".join(map(str, rule.get("target_matchers") or []))
    equal = ", ".join(map(str, rule.get("equal") or []))
    return f"{{{src}}} mutes {{{dst}}}" + (f" when equal in {equal}" if equal else "")


def _route_name(route: dict[str, Any]) -> str:
    matchers = ", ".join(map(str, route.get("matchers") or []))
    return f"{route.get('receiver', '(inherited)')} {{{matchers}}}"


def _routes(section: str, file: str, a: dict[str, Any], b: dict[str, Any], where: str = "route") -> list[Change]:
    """One route level: its own fields, then its child routes matched by receiver and matchers."""
    own_a = {k: v for k, v in a.items() if k != "routes"}
    own_b = {k: v for k, v in b.items() if k != "routes"}
    who = Subject(plain=f"{where}", md=f"{where}")
    out = _leaves(who, section, file, own_a, own_b, "")
    ca, cb = _children(a), _children(b)
    for name in [n for n in cb if n not in ca]:
        sub = Subject(plain=f"{where} -> {name}", md=f"{where} → `{name}`")
        out.append(
            sub.change(
                section=section,
                file=file,
                change="added",
                message="route added",
                field="routes",
                after=_yaml_text(redact(cb[name])),
            )
        )
    for name in [n for n in ca if n not in cb]:
        sub = Subject(plain=f"{where} -> {name}", md=f"{where} → `{name}`")
        out.append(
            sub.change(
                section=section,
                file=file,
                change="removed",
                message="route removed",
                field="routes",
                before=_yaml_text(redact(ca[name])),
            )
        )
    common_a = [n for n in ca if n in cb]
    common_b = [n for n in cb if n in ca]
    if common_a != common_b:
        out.append(
            who.change(
                section=section,
                file=file,
                change="moved",
                message="child routes reordered (the first matching route wins unless continue: true)",
                field="routes",
                before="\n".join(common_a),
                after="\n".join(common_b),
            )
        )
    for name in common_b:
        out += _routes(section, file, ca[name], cb[name], f"{where} -> {name}")
    return out


def _children(route: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for child in route.get("routes") or []:
        if not isinstance(child, dict):
            continue
        name = _route_name(child)
        while name in out:
            name += "'"
        out[name] = child
    return out


# ------------------------------------------------------------------------------ everything else


def section_of(path: str) -> str:
    """The report section of a file no dedicated comparer explained."""
    root = path.split("/", 1)[0]
    if root == "rules":
        return "Rule tests" if "/tests/" in path or ".test." in path else "Recording rules"
    sections = {
        "kubernetes": "Kubernetes",
        "blackbox": "Blackbox",
        "dashboards": "Dashboards",
        "prometheus": "Scrape config",
        "alertmanager": "Alertmanager",
    }
    return sections.get(root, "Other files")


def compare_files(base: dict[str, bytes], head: dict[str, bytes], paths: list[str]) -> list[Change]:
    """Files no dedicated comparer reads: field by field per YAML document (kind/name) or JSON file,
    and added, removed or changed with line counts when they do not parse."""
    out: list[Change] = []
    for path in paths:
        section = section_of(path)
        who = _file_subject(path)
        if path not in base or path not in head:
            kind = "added" if path not in base else "removed"
            n = len((head.get(path) or base.get(path) or b"").splitlines())
            out.append(who.change(section=section, file=path, change=kind, message=f"file {kind} ({n} lines)"))
            continue
        if base[path] == head[path]:
            continue
        docs_a, docs_b = _documents(path, base[path]), _documents(path, head[path])
        if docs_a is None or docs_b is None or path.startswith("rules/"):
            added, removed = line_counts(base[path], head[path])
            out.append(
                who.change(section=section, file=path, change="changed", message=f"changed (+{added} -{removed} lines)")
            )
            continue
        for name in sorted(set(docs_a) | set(docs_b)):
            sub = Subject(plain=f"{path} {name}".strip(), md=f"`{path}` {name}".strip()) if name else who
            if name not in docs_a:
                out.append(
                    sub.change(
                        section=section,
                        file=path,
                        change="added",
                        message="added",
                        after=_yaml_text(redact(docs_b[name])),
                    )
                )
            elif name not in docs_b:
                out.append(
                    sub.change(
                        section=section,
                        file=path,
                        change="removed",
                        message="removed",
                        before=_yaml_text(redact(docs_a[name])),
                    )
                )
            else:
                out += _leaves(sub, section, path, docs_a[name], docs_b[name])
    return out


def _documents(path: str, data: bytes) -> dict[str, Any] | None:
    """A file's documents by kind/name ('' for a single unnamed one), or None when it does not parse."""
    if path.endswith(".json"):
        try:
            return {"": json.loads(data)}
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
    if not path.endswith((".yml", ".yaml")):
        return None
    docs = load_yaml_docs(data)
    if not docs:
        return None
    out: dict[str, Any] = {}
    for i, doc in enumerate(docs):
        meta = doc.get("metadata") if isinstance(doc, dict) else None
        name = (
            f"{doc.get('kind', '')}/{meta.get('name', '')}"
            if isinstance(meta, dict)
            else ("" if len(docs) == 1 else f"#{i}")
        )
        out[name] = doc
    return out
