"""Checks of Notifications documents and of credentials anywhere in specs: inline secrets, receivers, templates."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..diagnostics import Report, did_you_mean
from ..model.loader import Document, dotted
from ..model.notifications import Integration, Notifications, Route
from ..model.project import Project, RemoteWrite, SpecPath
from .gotemplate import TemplateError, check_template, line_col

PLACEHOLDER = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
# (inline field, its *_file alternative) per integration; the inline form may only be a placeholder.
SECRETS = {
    "email": (("auth_password", "auth_password_file"), ("auth_secret", None)),
    "slack": (("api_url", "api_url_file"),),
    "pagerduty": (("routing_key", "routing_key_file"), ("service_key", "service_key_file")),
    "teams": (("webhook_url", "webhook_url_file"),),
    "webhook": (("bearer_token", "bearer_token_file"),),
    "basic_auth": (("password", "password_file"),),
    "smtp": (("auth_password", "auth_password_file"),),
    "remote_write": (("bearer_token", "bearer_token_file"),),
}
TEMPLATE_FIELDS = {
    "email": ("html", "text", "headers"),
    "slack": ("username", "color", "title", "title_link", "text"),
    "pagerduty": ("client", "client_url", "description", "severity", "class", "component", "group", "details"),
    "teams": ("title", "text"),
}
# Secrets that turn up pasted into ordinary fields (URLs above all), matched in any case: hosts and
# schemes are case-insensitive, and a URL with its token is a credential however it is spelled.
_URL_TOKEN_KEYS = (
    "token",
    "access_token",
    "auth_token",
    "private_token",
    "api_key",
    "apikey",
    "api-key",
    "x-api-key",
    "dd-api-key",
    "key",
    "secret",
    "client_secret",
    "password",
    "passwd",
    "pwd",
    "sig",
    "signature",
    "routing_key",
    "integration_key",
    "service_key",
    "code",
)
SECRET_SHAPES = (
    (re.compile(r"hooks\.slack\.com/(services|workflows|triggers)/", re.I), "a Slack webhook URL"),
    (re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{8,}|\bxapp-[A-Za-z0-9-]{8,}", re.I), "a Slack token"),
    (re.compile(r"(webhook\.office\.com|outlook\.office(365)?\.com/webhook)/", re.I), "a Microsoft Teams webhook URL"),
    (re.compile(r"discord(app)?\.com/api/webhooks/", re.I), "a Discord webhook URL"),
    (re.compile(r"api\.telegram\.org/bot[0-9]+:", re.I), "a Telegram bot token"),
    (re.compile(r"hooks\.zapier\.com/hooks/", re.I), "a Zapier webhook URL"),
    (re.compile(r"events\.pagerduty\.com/integration/[0-9a-z]{20,}", re.I), "a PagerDuty integration key"),
    (re.compile(r"victorops\.com/integrations/.*/alert/[0-9a-z-]{20,}", re.I), "a VictorOps routing key"),
    (re.compile(r"://[^/\s@]*:[^/\s@]+@"), "a password in a URL"),
    (re.compile(r"^[A-Za-z0-9._%+-]+:[^\s/@]+@[A-Za-z0-9.-]+(:[0-9]+)?(/|$)"), "a password in a URL"),
    (
        re.compile(r"[?&;](" + "|".join(re.escape(k) for k in _URL_TOKEN_KEYS) + r")=(?!\$\{)[^&;#\s]{4,}", re.I),
        "a credential in a URL's query string",
    ),
    # A long letters-and-digits path segment is a token (Mattermost, Rocket.Chat, Opsgenie); slugs have hyphens.
    (
        re.compile(r"://[^\s?#]*/(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{24,}(/|\?|#|$)"),
        "a token in a URL's path",
    ),
    (
        re.compile(r"^\s*(bearer|basic|token|geniekey|splunk|apikey)\s+(?!\$\{)[A-Za-z0-9._~+/=:-]{8,}\s*$", re.I),
        "an Authorization header value",
    ),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}|\bAKIA[0-9A-Z]{16}\b"), "an access token"),
)
# Keys whose value is a credential whatever it looks like (HTTP headers above all), compared lowercased.
SECRET_KEYS = (
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-api-token",
    "private-token",
    "cookie",
)
# The *_file field Alertmanager reads instead of an inline value, by the inline field's name.
FILE_FIELDS = {
    "api_url": "api_url_file",
    "webhook_url": "webhook_url_file",
    "url": "url_file",
    "routing_key": "routing_key_file",
    "service_key": "service_key_file",
    "password": "password_file",
    "auth_password": "auth_password_file",
    "bearer_token": "bearer_token_file",
}


def _placeholder_hint(kind: str, field: str) -> str:
    return "${" + f"{kind}_{field}".upper() + "}"


def check_secret_fields(doc: Document, path: SpecPath, item: Mapping[str, Any], kind: str, report: Report) -> None:
    """Inline credentials (anything but an env placeholder) and a credential given twice are errors."""
    for inline, file_field in SECRETS.get(kind, ()):
        if inline in item:
            value = item[inline]
            if not (isinstance(value, str) and PLACEHOLDER.match(value)):
                # Never echo the value: it is a credential.
                alternative = f"{file_field}: /path/to/file, or " if file_field else ""
                report.error(
                    doc.pos(path + (inline,)),
                    f"inline secret in {inline}: credentials must not be "
                    "written into specs (they would end up in the generated files)",
                    dotted(path + (inline,)),
                    f"{alternative}an environment placeholder such as {_placeholder_hint(kind, inline)}",
                )
            if file_field and file_field in item:
                report.error(
                    doc.pos(path + (file_field,)),
                    f"{inline} and {file_field} are both set",
                    dotted(path + (file_field,)),
                    f"one of {inline} or {file_field}",
                )
    if isinstance(item.get("basic_auth"), dict):
        check_secret_fields(doc, path + ("basic_auth",), item["basic_auth"], "basic_auth", report)


def _shape_alternative(path: SpecPath) -> str:
    field = next((p for p in reversed(path) if isinstance(p, str)), "")
    file_field = FILE_FIELDS.get(field)
    first = (
        f"{file_field}: /path/to/file (Alertmanager reads the secret from it)"
        if file_field
        else "the integration's *_file field (api_url_file, routing_key_file, password_file, ...)"
    )
    return f"{first}, or an environment placeholder such as ${{WEBHOOK_URL}}; keep credentials out of specs"


def secret_shape(text: str) -> str:
    """What credential text looks like ('' when it looks like none); a lone placeholder is none."""
    if PLACEHOLDER.match(text):
        return ""
    for pattern, what in SECRET_SHAPES:
        if pattern.search(text):
            return what
    return ""


def scan_secret_shapes(doc: Document, path: SpecPath, node: Any, report: Report) -> None:
    """Strings that look like credentials (webhook URLs with tokens, passwords in URLs, Authorization
    headers) anywhere below node, by shape and not only by field name: whatever the spec field, it is
    copied into alertmanager.yml. The message never repeats the value."""
    if isinstance(node, dict):
        for key, value in node.items():
            if (
                isinstance(key, str)
                and key.lower() in SECRET_KEYS
                and isinstance(value, str)
                and not PLACEHOLDER.match(value)
            ):
                report.error(
                    doc.pos(path + (key,)),
                    f"this looks like an inline secret (a {key} header)",
                    dotted(path + (key,)),
                    _shape_alternative(path + (key,)),
                )
                continue
            scan_secret_shapes(doc, path + (key,), value, report)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            scan_secret_shapes(doc, path + (i,), value, report)
    elif isinstance(node, str):
        what = secret_shape(node)
        if what:
            report.error(
                doc.pos(path), f"this looks like an inline secret ({what})", dotted(path), _shape_alternative(path)
            )


def check_template_field(doc: Document, path: SpecPath, value: Any, report: Report) -> None:
    """A Go template that Alertmanager would fail to parse, located inside the field."""
    values = value.items() if isinstance(value, dict) else [(None, value)]
    for key, text in values:
        if not isinstance(text, str):
            continue
        where = path + ((key,) if key is not None else ())
        try:
            check_template(text)
        except TemplateError as exc:
            line, col = line_col(text, exc.offset)
            report.error(
                doc.pos_in_scalar(where, line, col),
                f"template error: {exc}",
                dotted(where),
                "a Go template Alertmanager can parse ({{ .CommonLabels.alertname }}, {{ range .Alerts }}...)",
            )


def _check_teams(n: Notifications, integration: Integration, report: Report) -> None:
    doc, path, item = integration.ref.doc, integration.ref.path, integration.settings
    native = [k for k in ("webhook_url_file", "webhook_url") if k in item]
    if "proxy_url" in item and native:
        report.error(
            doc.pos(path + (native[0],)),
            f"teams takes proxy_url or {native[0]}, not both",
            dotted(path + (native[0],)),
            "proxy_url (prometheus-msteams) or the native webhook_url_file",
        )
    elif not native and "proxy_url" not in item:
        report.error(
            doc.pos(path),
            "teams needs where to send",
            dotted(path),
            "proxy_url: (a prometheus-msteams proxy) or webhook_url_file: (Alertmanager >= 0.27)",
        )
    needs = {"webhook_url_file": (0, 27), "webhook_url": (0, 26)}
    for key in native:
        if n.version < needs[key]:
            need = ".".join(map(str, needs[key]))
            report.error(
                doc.pos(path + (key,)),
                f"teams.{key} needs Alertmanager {need} or later; this spec targets {n.alertmanager_version}",
                dotted(path + (key,)),
                f"alertmanager_version: '{need}' (if that is what runs), or proxy_url: to a "
                "prometheus-msteams proxy, which works with any Alertmanager",
            )


_NEEDS = {
    "slack": (("api_url", "api_url_file"), "api_url_file: /path (or api_url: ${SLACK_API_URL})"),
    "pagerduty": (
        ("routing_key", "routing_key_file", "service_key", "service_key_file"),
        "routing_key_file: /path (Events API v2) or service_key_file: /path",
    ),
}


def _check_integration(n: Notifications, integration: Integration, report: Report) -> None:
    doc, path, kind, item = integration.ref.doc, integration.ref.path, integration.kind, integration.settings
    check_secret_fields(doc, path, item, kind, report)
    for field in TEMPLATE_FIELDS.get(kind, ()):
        if field in item:
            check_template_field(doc, path + (field,), item[field], report)
    if kind in _NEEDS and not any(k in item for k in _NEEDS[kind][0]):
        report.error(doc.pos(path), f"{kind} has no credentials to send with", dotted(path), _NEEDS[kind][1])
    if kind == "teams":
        _check_teams(n, integration, report)
    if kind == "email":
        smtp = n.smtp.settings if n.smtp is not None else {}
        for field in ("smarthost", "from"):
            if field not in item and field not in smtp:
                report.error(
                    doc.pos(path),
                    f"email needs {field}",
                    dotted(path),
                    f"{field}: here, or smtp.{field} for every email receiver",
                )


def _route_receivers(route: Route) -> Iterator[tuple[SpecPath, str]]:
    yield route.ref.path + ("receiver",), route.receiver
    for step in route.escalate:
        yield step.ref.path + ("receiver",), step.receiver
    for child in route.routes:
        yield from _route_receivers(child)


def _regexes(route: Route) -> Iterator[tuple[SpecPath, str]]:
    for label, value in route.match_re.items():
        yield route.ref.path + ("match_re", label), value
    for child in route.routes:
        yield from _regexes(child)


@dataclass(frozen=True, kw_only=True)
class _Written:
    """A piece of the Notifications spec as written, for the credential-shape scan."""

    path: SpecPath
    value: Any


def _route_written(route: Route) -> Iterator[_Written]:
    path = route.ref.path
    yield _Written(path=path + ("receiver",), value=route.receiver)
    for key, labels in (("match", route.match), ("match_re", route.match_re)):
        yield _Written(path=path + (key,), value=labels)
    yield _Written(path=path + ("matchers",), value=route.matchers)
    yield _Written(path=path + ("group_by",), value=route.group_by or [])
    for key, text in (
        ("group_wait", route.group_wait),
        ("group_interval", route.group_interval),
        ("repeat_interval", route.repeat_interval),
    ):
        yield _Written(path=path + (key,), value=text)
    for step in route.escalate:
        for key, text in (
            ("after", step.after),
            ("receiver", step.receiver),
            ("repeat_interval", step.repeat_interval),
        ):
            yield _Written(path=step.ref.path + (key,), value=text)
    for child in route.routes:
        yield from _route_written(child)


def _written(n: Notifications) -> Iterator[_Written]:
    """Every string of the spec, by the model piece that holds it: the scan sees what alertmanager.yml gets."""
    base = n.ref.path
    yield _Written(path=base + ("alertmanager_version",), value=n.alertmanager_version)
    yield _Written(path=base + ("resolve_timeout",), value=n.resolve_timeout)
    if n.smtp is not None:
        yield _Written(path=n.smtp.ref.path, value=n.smtp.settings)
    yield _Written(path=base + ("templates",), value=n.templates)
    for r in n.receivers:
        yield _Written(path=r.ref.path + ("name",), value=r.name)
        for integration in r.integrations:
            yield _Written(path=integration.ref.path, value=integration.settings)
    yield from _route_written(n.route)
    for rule in n.inhibit_rules:
        for key, labels in (
            ("source", rule.source),
            ("source_re", rule.source_re),
            ("target", rule.target),
            ("target_re", rule.target_re),
        ):
            yield _Written(path=rule.ref.path + (key,), value=labels or {})
        yield _Written(path=rule.ref.path + ("equal",), value=rule.equal)


def _check_one(n: Notifications, report: Report) -> None:
    doc = n.doc
    names: dict[str, SpecPath] = {}
    for r in n.receivers:
        path = r.ref.path
        if r.name in names:
            report.error(
                doc.pos(path + ("name",)),
                f"duplicate receiver {r.name!r}",
                dotted(path + ("name",)),
                f"a unique name (first defined at {doc.pos(names[r.name] + ('name',))})",
            )
        names.setdefault(r.name, path)
        for integration in r.integrations:
            _check_integration(n, integration, report)
    used = set()
    for path, name in _route_receivers(n.route):
        used.add(name)
        if name not in names:
            hint = did_you_mean(name, names)
            report.error(
                doc.pos(path),
                f"unknown receiver {name!r}{hint}",
                dotted(path),
                "one of the receivers: " + ", ".join(names),
            )
    for name, path in names.items():
        if name not in used:
            report.warn(
                doc.pos(path + ("name",)),
                f"receiver {name!r} is not used by any route",
                dotted(path + ("name",)),
                "a route (or escalation step) that sends to it, or no receiver",
            )
    for path, value in _regexes(n.route):
        try:
            re.compile(value)
        except re.error as exc:
            report.error(doc.pos(path), f"invalid regular expression: {exc}", dotted(path), "an RE2 regular expression")
    for rule in n.inhibit_rules:
        path = rule.ref.path
        for side, eq, regex in (("source", rule.source, rule.source_re), ("target", rule.target, rule.target_re)):
            if eq is None and regex is None:
                report.error(
                    doc.pos(path),
                    f"an inhibition rule needs {side}: matchers",
                    dotted(path),
                    f"{side}: {{label: value}} or {side}_re: {{label: regex}}",
                )
    if n.smtp is not None:
        check_secret_fields(doc, n.smtp.ref.path, n.smtp.settings, "smtp", report)
    for piece in _written(n):
        scan_secret_shapes(doc, piece.path, piece.value, report)


def check_notifications(project: Project, report: Report) -> None:
    """One Notifications document at most; receivers, routes, credentials and templates of it."""
    docs = [n.doc for n in project.notifications]
    for extra in docs[1:]:
        report.error(
            extra.pos(("kind",)),
            "a second Notifications document",
            "kind",
            f"one Notifications document (the first is at {docs[0].pos(('kind',))})",
        )
    for n in project.notifications[:1]:
        _check_one(n, report)


def _remote_write_written(queue: RemoteWrite) -> dict[str, Any]:
    """The queue's fields that were written, as the credential checks read them."""
    out: dict[str, Any] = {"url": queue.url}
    if queue.name:
        out["name"] = queue.name
    if queue.remote_timeout:
        out["remote_timeout"] = queue.remote_timeout
    if queue.bearer_token_file:
        out["bearer_token_file"] = queue.bearer_token_file
    if queue.bearer_token is not None:
        out["bearer_token"] = queue.bearer_token
    if queue.basic_auth is not None:
        auth = queue.basic_auth
        out["basic_auth"] = {"username": auth.username}
        if auth.password_file:
            out["basic_auth"]["password_file"] = auth.password_file
        if auth.password is not None:
            out["basic_auth"]["password"] = auth.password
    if queue.headers is not None:
        out["headers"] = queue.headers
    if queue.write_relabel:
        out["write_relabel"] = queue.write_relabel
    return out


def check_settings_credentials(project: Project, report: Report) -> None:
    """remote_write in Settings: the same rules for credentials as receivers."""
    for queue in project.settings.remote_write:
        item = _remote_write_written(queue)
        check_secret_fields(queue.ref.doc, queue.ref.path, item, "remote_write", report)
        scan_secret_shapes(queue.ref.doc, queue.ref.path, item, report)
