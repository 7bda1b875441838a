"""Checks of Notifications documents and of credentials anywhere in specs: inline secrets, receivers, templates."""

from __future__ import annotations

import re

from ..compile.alertmanager import DEFAULT_VERSION, as_list, notifications_docs
from ..diagnostics import Report, did_you_mean
from ..spec.loader import Document, dotted
from ..spec.model import Project
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


def check_secret_fields(doc: Document, path: tuple, item: dict, kind: str, report: Report) -> None:
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


def _shape_alternative(path: tuple) -> str:
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


def scan_secret_shapes(doc: Document, path: tuple, node, report: Report) -> None:
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


def check_template_field(doc: Document, path: tuple, value, report: Report) -> None:
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


def _version(spec: dict) -> tuple:
    return tuple(int(p) for p in spec.get("alertmanager_version", DEFAULT_VERSION).split("."))


def _check_teams(doc: Document, path: tuple, item: dict, spec: dict, report: Report) -> None:
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
        if _version(spec) < needs[key]:
            have = spec.get("alertmanager_version", DEFAULT_VERSION)
            need = ".".join(map(str, needs[key]))
            report.error(
                doc.pos(path + (key,)),
                f"teams.{key} needs Alertmanager {need} or later; this spec targets {have}",
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


def _check_integration(doc: Document, path: tuple, kind: str, item: dict, spec: dict, report: Report) -> None:
    check_secret_fields(doc, path, item, kind, report)
    for field in TEMPLATE_FIELDS.get(kind, ()):
        if field in item:
            check_template_field(doc, path + (field,), item[field], report)
    if kind in _NEEDS and not any(k in item for k in _NEEDS[kind][0]):
        report.error(doc.pos(path), f"{kind} has no credentials to send with", dotted(path), _NEEDS[kind][1])
    if kind == "teams":
        _check_teams(doc, path, item, spec, report)
    if kind == "email":
        smtp = spec.get("smtp", {})
        for field in ("smarthost", "from"):
            if field not in item and field not in smtp:
                report.error(
                    doc.pos(path),
                    f"email needs {field}",
                    dotted(path),
                    f"{field}: here, or smtp.{field} for every email receiver",
                )


def _route_receivers(route: dict, path: tuple):
    yield path + ("receiver",), route["receiver"]
    for i, step in enumerate(route.get("escalate", [])):
        yield path + ("escalate", i, "receiver"), step["receiver"]
    for i, child in enumerate(route.get("routes", [])):
        yield from _route_receivers(child, path + ("routes", i))


def _regexes(route: dict, path: tuple):
    for key in ("match_re",):
        for label, value in route.get(key, {}).items():
            yield path + (key, label), value
    for i, child in enumerate(route.get("routes", [])):
        yield from _regexes(child, path + ("routes", i))


def _check_doc(doc: Document, report: Report) -> None:
    spec = doc.data["spec"]
    base: tuple = ("spec",)
    names: dict[str, tuple] = {}
    for i, r in enumerate(spec["receivers"]):
        path = base + ("receivers", i)
        if r["name"] in names:
            report.error(
                doc.pos(path + ("name",)),
                f"duplicate receiver {r['name']!r}",
                dotted(path + ("name",)),
                f"a unique name (first defined at {doc.pos(names[r['name']] + ('name',))})",
            )
        names.setdefault(r["name"], path)
        for kind in ("email", "slack", "pagerduty", "teams", "webhook"):
            if kind not in r:
                continue
            many = isinstance(r[kind], list)
            for j, item in enumerate(as_list(r[kind])):
                _check_integration(doc, path + (kind,) + ((j,) if many else ()), kind, item, spec, report)
    used = set()
    for path, name in _route_receivers(spec["route"], base + ("route",)):
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
    for path, value in _regexes(spec["route"], base + ("route",)):
        try:
            re.compile(value)
        except re.error as exc:
            report.error(doc.pos(path), f"invalid regular expression: {exc}", dotted(path), "an RE2 regular expression")
    for i, rule in enumerate(spec.get("inhibit", {}).get("rules", [])):
        path = base + ("inhibit", "rules", i)
        for side in ("source", "target"):
            if side not in rule and f"{side}_re" not in rule:
                report.error(
                    doc.pos(path),
                    f"an inhibition rule needs {side}: matchers",
                    dotted(path),
                    f"{side}: {{label: value}} or {side}_re: {{label: regex}}",
                )
    if "smtp" in spec:
        check_secret_fields(doc, base + ("smtp",), spec["smtp"], "smtp", report)
    scan_secret_shapes(doc, base, spec, report)


def check_notifications(project: Project, report: Report) -> None:
    """One Notifications document at most; receivers, routes, credentials and templates of it."""
    docs = notifications_docs(project)
    for extra in docs[1:]:
        report.error(
            extra.pos(("kind",)),
            "a second Notifications document",
            "kind",
            f"one Notifications document (the first is at {docs[0].pos(('kind',))})",
        )
    for doc in docs[:1]:
        _check_doc(doc, report)


def check_settings_credentials(project: Project, report: Report) -> None:
    """remote_write in Settings: the same rules for credentials as receivers."""
    ref = project.settings.ref
    if ref is None:
        return
    for i, item in enumerate(ref.doc.data["spec"].get("remote_write", [])):
        path = ("spec", "remote_write", i)
        check_secret_fields(ref.doc, path, item, "remote_write", report)
        scan_secret_shapes(ref.doc, path, item, report)
