"""A Notifications document -> alertmanager.yml as plain data: receivers, routes, escalation, inhibition."""

from __future__ import annotations

from ..spec.model import Project
from .promql import quote

DEFAULT_VERSION = "0.25"  # Debian 12's prometheus-alertmanager: the oldest we render for
DEFAULT_GROUP_BY = ["alertname", "slo_id"]

# Built-in inhibition (docs/SLO.md labels): a page silences the ticket of the same SLO, and a host
# that is down silences the other alerts of that host. The source must carry the label compared:
# Alertmanager treats a missing label as "", which would make every page silence every SLO-less ticket.
DEFAULT_INHIBITIONS = [
    {
        "source_matchers": ['severity="page"', 'slo_id=~".+"'],
        "target_matchers": ['severity="ticket"'],
        "equal": ["slo_id"],
    },
    {
        "source_matchers": ['alertname="HostDown"', 'instance=~".+"'],
        "target_matchers": ['alertname!="HostDown"'],
        "equal": ["instance"],
    },
]

# Spec keys copied to Alertmanager as they are, in the order Alertmanager documents them.
_COPY = {
    "email": (
        "to",
        "from",
        "smarthost",
        "hello",
        "auth_username",
        "auth_password",
        "auth_password_file",
        "auth_secret",
        "auth_identity",
        "require_tls",
        "headers",
        "html",
        "text",
        "send_resolved",
    ),
    "slack": (
        "api_url",
        "api_url_file",
        "channel",
        "username",
        "color",
        "title",
        "title_link",
        "text",
        "icon_emoji",
        "send_resolved",
    ),
    "pagerduty": (
        "routing_key",
        "routing_key_file",
        "service_key",
        "service_key_file",
        "url",
        "client",
        "client_url",
        "description",
        "severity",
        "class",
        "component",
        "group",
        "details",
        "send_resolved",
    ),
}
_SMTP = ("smarthost", "from", "hello", "auth_username", "auth_password", "auth_password_file", "require_tls")


def notifications_docs(project: Project) -> list:
    """The Notifications documents of the project (the model keeps kinds it does not know in extra)."""
    return list(project.extra.get("Notifications", []))


def as_list(value) -> list:
    """An integration written as one mapping or as a list of them, as a list."""
    return value if isinstance(value, list) else [value]


def matchers(spec: dict, prefix: str = "") -> list[str]:
    """Alertmanager matcher strings from match / match_re / matchers (or source / source_re ...)."""
    eq, re_ = ("match", "match_re") if not prefix else (prefix, f"{prefix}_re")
    out = [f"{k}={quote(v)}" for k, v in spec.get(eq, {}).items()]
    out += [f"{k}=~{quote(v)}" for k, v in spec.get(re_, {}).items()]
    out += [m.strip() for m in spec.get("matchers", [])] if not prefix else []
    return out


def http_auth(spec: dict) -> dict:
    """authorization and basic_auth of an HTTP client config, from *_file fields or placeholders."""
    http: dict = {}
    if "bearer_token_file" in spec:
        http["authorization"] = {"credentials_file": spec["bearer_token_file"]}
    elif "bearer_token" in spec:
        http["authorization"] = {"credentials": spec["bearer_token"]}
    if "basic_auth" in spec:
        auth = spec["basic_auth"]
        http["basic_auth"] = {k: auth[k] for k in ("username", "password", "password_file") if k in auth}
    return http


def _webhook(spec: dict) -> dict:
    out = {"url": spec["url"]}
    for key in ("send_resolved", "max_alerts"):
        if key in spec:
            out[key] = spec[key]
    http = http_auth(spec)
    if http:
        out["http_config"] = http
    return out


def _teams(spec: dict) -> tuple[str, dict]:
    if "proxy_url" in spec:  # prometheus-msteams holds the Teams URL; works with any Alertmanager
        out = {"url": spec["proxy_url"]}
        if "send_resolved" in spec:
            out["send_resolved"] = spec["send_resolved"]
        return "webhook_configs", out
    keys = ("webhook_url", "webhook_url_file", "title", "text", "send_resolved")
    return "msteams_configs", {k: spec[k] for k in keys if k in spec}


def receiver(spec: dict) -> dict:
    """One Alertmanager receiver from a spec receiver."""
    out: dict = {"name": spec["name"]}
    configs: dict[str, list] = {}
    for kind in ("email", "pagerduty", "slack", "webhook", "teams"):
        for item in as_list(spec.get(kind, [])):
            if kind == "webhook":
                configs.setdefault("webhook_configs", []).append(_webhook(item))
            elif kind == "teams":
                key, value = _teams(item)
                configs.setdefault(key, []).append(value)
            else:
                configs.setdefault(f"{kind}_configs", []).append({k: item[k] for k in _COPY[kind] if k in item})
    for key in ("email_configs", "pagerduty_configs", "slack_configs", "webhook_configs", "msteams_configs"):
        if key in configs:
            out[key] = configs[key]
    return out


_TIMING = ("group_by", "group_wait", "group_interval", "repeat_interval")


def routes(spec: dict) -> list[dict]:
    """Alertmanager routes for one spec route: the route itself, then one per escalation step."""
    # Escalation is real routing: sibling routes with the same matchers, `continue: true`, and a
    # group_wait of the step's delay. Alertmanager sends a group's first notification only after
    # group_wait and skips it when every alert has resolved by then, so receiver B hears of the
    # alert only if it is still firing N minutes after Alertmanager first received it.
    match = matchers(spec)
    first: dict = {"receiver": spec["receiver"]}
    if match:
        first["matchers"] = match
    for key in _TIMING:
        if key in spec:
            first[key] = list(spec[key]) if key == "group_by" else spec[key]
    steps = spec.get("escalate", [])
    go_on = spec.get("continue", False)
    if steps or go_on:
        first["continue"] = True
    children = [r for child in spec.get("routes", []) for r in routes(child)]
    if children:
        first["routes"] = children
    out = [first]
    for i, step in enumerate(steps):
        item: dict = {"receiver": step["receiver"]}
        if match:
            item["matchers"] = list(match)
        if "group_by" in spec:
            item["group_by"] = list(spec["group_by"])
        item["group_wait"] = step["after"]
        for key in ("group_interval", "repeat_interval"):
            if key in step or key in spec:
                item[key] = step.get(key, spec.get(key))
        if i < len(steps) - 1 or go_on:
            item["continue"] = True
        out.append(item)
    return out


def inhibit_rules(spec: dict) -> list[dict]:
    """The built-in inhibition rules (unless switched off) followed by the spec's own."""
    inhibit = spec.get("inhibit", {})
    out = [dict(rule) for rule in DEFAULT_INHIBITIONS] if inhibit.get("defaults", True) else []
    for rule in inhibit.get("rules", []):
        item: dict = {"source_matchers": matchers(rule, "source"), "target_matchers": matchers(rule, "target")}
        if rule.get("equal"):
            item["equal"] = list(rule["equal"])
        out.append(item)
    return out


def alertmanager_config(spec: dict) -> dict:
    """The whole alertmanager.yml for a Notifications document's spec."""
    glob: dict = {}
    if "resolve_timeout" in spec:
        glob["resolve_timeout"] = spec["resolve_timeout"]
    for key in _SMTP:
        if key in spec.get("smtp", {}):
            glob[f"smtp_{key}"] = spec["smtp"][key]
    root = spec["route"]
    route: dict = {"receiver": root["receiver"], "group_by": list(root.get("group_by", DEFAULT_GROUP_BY))}
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if key in root:
            route[key] = root[key]
    children = [r for child in root.get("routes", []) for r in routes(child)]
    if children:
        route["routes"] = children
    out: dict = {}
    if glob:
        out["global"] = glob
    out["route"] = route
    rules = inhibit_rules(spec)
    if rules:
        out["inhibit_rules"] = rules
    out["receivers"] = [receiver(r) for r in spec["receivers"]]
    if spec.get("templates"):
        out["templates"] = list(spec["templates"])
    return out
