"""The Notifications model -> alertmanager.yml as plain data: receivers, routes, escalation, inhibition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model.notifications import DEFAULT_VERSION, InhibitRule, Integration, Notifications, Receiver, Route
from ..model.project import BasicAuth, Project, basic_auth_from
from .promql import quote

__all__ = ["DEFAULT_VERSION", "alertmanager_config", "http_auth", "notifications_of"]
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


def notifications_of(project: Project) -> Notifications | None:
    """The Notifications that alertmanager.yml is rendered from: the first (check/notifications.py
    reports any other)."""
    return project.notifications[0] if project.notifications else None


def matchers(
    eq: Mapping[str, str] | None, regex: Mapping[str, str] | None, written: list[str] | None = None
) -> list[str]:
    """Alertmanager matcher strings from match / match_re / matchers (or source / source_re ...)."""
    out = [f"{k}={quote(v)}" for k, v in (eq or {}).items()]
    out += [f"{k}=~{quote(v)}" for k, v in (regex or {}).items()]
    out += [m.strip() for m in written or []]
    return out


def http_auth(
    bearer_token_file: str, bearer_token: str | None, basic_auth: BasicAuth | None
) -> dict[str, dict[str, str]]:
    """authorization and basic_auth of an HTTP client config, from *_file fields or placeholders."""
    http: dict[str, dict[str, str]] = {}
    if bearer_token_file:
        http["authorization"] = {"credentials_file": bearer_token_file}
    elif bearer_token is not None:
        http["authorization"] = {"credentials": bearer_token}
    if basic_auth is not None:
        auth = {"username": basic_auth.username}
        if basic_auth.password is not None:
            auth["password"] = basic_auth.password
        if basic_auth.password_file:
            auth["password_file"] = basic_auth.password_file
        http["basic_auth"] = auth
    return http


def _webhook(spec: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"url": spec["url"]}
    for key in ("send_resolved", "max_alerts"):
        if key in spec:
            out[key] = spec[key]
    http = http_auth(
        spec.get("bearer_token_file", ""), spec.get("bearer_token"), basic_auth_from(spec.get("basic_auth"))
    )
    if http:
        out["http_config"] = http
    return out


def _teams(spec: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    if "proxy_url" in spec:  # prometheus-msteams holds the Teams URL; works with any Alertmanager
        out = {"url": spec["proxy_url"]}
        if "send_resolved" in spec:
            out["send_resolved"] = spec["send_resolved"]
        return "webhook_configs", out
    keys = ("webhook_url", "webhook_url_file", "title", "text", "send_resolved")
    return "msteams_configs", {k: spec[k] for k in keys if k in spec}


_RECEIVER_ORDER = ("email", "pagerduty", "slack", "webhook", "teams")


def _config(integration: Integration) -> tuple[str, dict[str, Any]]:
    kind, spec = integration.kind, integration.settings
    if kind == "webhook":
        return "webhook_configs", _webhook(spec)
    if kind == "teams":
        return _teams(spec)
    return f"{kind}_configs", {k: spec[k] for k in _COPY[kind] if k in spec}


def receiver(spec: Receiver) -> dict[str, Any]:
    """One Alertmanager receiver from a spec receiver."""
    out: dict[str, Any] = {"name": spec.name}
    configs: dict[str, list[dict[str, Any]]] = {}
    for kind in _RECEIVER_ORDER:
        for integration in spec.integrations:
            if integration.kind == kind:
                key, value = _config(integration)
                configs.setdefault(key, []).append(value)
    for key in ("email_configs", "pagerduty_configs", "slack_configs", "webhook_configs", "msteams_configs"):
        if key in configs:
            out[key] = configs[key]
    return out


def _timings(route: Route) -> dict[str, str]:
    """group_wait, group_interval and repeat_interval where the route sets them."""
    written = {
        "group_wait": route.group_wait,
        "group_interval": route.group_interval,
        "repeat_interval": route.repeat_interval,
    }
    return {key: value for key, value in written.items() if value}


def routes(spec: Route) -> list[dict[str, Any]]:
    """Alertmanager routes for one spec route: the route itself, then one per escalation step."""
    # Escalation is real routing: sibling routes with the same matchers, `continue: true`, and a
    # group_wait of the step's delay. Alertmanager sends a group's first notification only after
    # group_wait and skips it when every alert has resolved by then, so receiver B hears of the
    # alert only if it is still firing N minutes after Alertmanager first received it.
    match = matchers(spec.match, spec.match_re, spec.matchers)
    first: dict[str, Any] = {"receiver": spec.receiver}
    if match:
        first["matchers"] = match
    if spec.group_by is not None:
        first["group_by"] = list(spec.group_by)
    first.update(_timings(spec))
    steps = spec.escalate
    go_on = spec.continue_
    if steps or go_on:
        first["continue"] = True
    children = [r for child in spec.routes for r in routes(child)]
    if children:
        first["routes"] = children
    out = [first]
    for i, step in enumerate(steps):
        item: dict[str, Any] = {"receiver": step.receiver}
        if match:
            item["matchers"] = list(match)
        if spec.group_by is not None:
            item["group_by"] = list(spec.group_by)
        item["group_wait"] = step.after
        if spec.group_interval:
            item["group_interval"] = spec.group_interval
        if step.repeat_interval or spec.repeat_interval:
            item["repeat_interval"] = step.repeat_interval or spec.repeat_interval
        if i < len(steps) - 1 or go_on:
            item["continue"] = True
        out.append(item)
    return out


def _inhibit_rule(rule: InhibitRule) -> dict[str, Any]:
    item: dict[str, Any] = {
        "source_matchers": matchers(rule.source, rule.source_re),
        "target_matchers": matchers(rule.target, rule.target_re),
    }
    if rule.equal:
        item["equal"] = list(rule.equal)
    return item


def inhibit_rules(spec: Notifications) -> list[dict[str, Any]]:
    """The built-in inhibition rules (unless switched off) followed by the spec's own."""
    out = [dict(rule) for rule in DEFAULT_INHIBITIONS] if spec.inhibit_defaults else []
    return out + [_inhibit_rule(rule) for rule in spec.inhibit_rules]


def alertmanager_config(spec: Notifications) -> dict[str, Any]:
    """The whole alertmanager.yml for a Notifications model."""
    glob: dict[str, Any] = {}
    if spec.resolve_timeout:
        glob["resolve_timeout"] = spec.resolve_timeout
    smtp = spec.smtp.settings if spec.smtp is not None else {}
    for key in _SMTP:
        if key in smtp:
            glob[f"smtp_{key}"] = smtp[key]
    root = spec.route
    route: dict[str, Any] = {
        "receiver": root.receiver,
        "group_by": list(root.group_by if root.group_by is not None else DEFAULT_GROUP_BY),
    }
    route.update(_timings(root))
    children = [r for child in root.routes for r in routes(child)]
    if children:
        route["routes"] = children
    out: dict[str, Any] = {}
    if glob:
        out["global"] = glob
    out["route"] = route
    rules = inhibit_rules(spec)
    if rules:
        out["inhibit_rules"] = rules
    out["receivers"] = [receiver(r) for r in spec.receivers]
    if spec.templates:
        out["templates"] = list(spec.templates)
    return out
