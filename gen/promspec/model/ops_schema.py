"""JSON Schema of the operations features: alert kinds (assembled from alert_kinds.KINDS), Notifications,
remote_write, Kubernetes and Slurm fields."""

from __future__ import annotations

from typing import Any

from ..alert_kinds import KINDS
from ..alert_kinds.base import KindSchema
from .schema_parts import ALERT, DURATION, HOSTPORT, LABEL_NAME, LABELS, NAME, PROMQL, _object

# Fields every alert has, whatever its kind (those of a raw alert but expr). name and kind are validated
# once, on the outer object; the per-kind branches list them only so that "unknown field" knows them.
_COMMON = {"name": {}, "kind": {}, **{k: v for k, v in ALERT["properties"].items() if k not in ("name", "expr")}}


def _kind_branch(kind: str | None, schema: KindSchema) -> dict[str, Any]:
    condition = (
        {"not": {"required": ["kind"]}}
        if kind is None
        else {"properties": {"kind": {"const": kind}}, "required": ["kind"]}
    )
    then = _object({**_COMMON, **schema.fields}, schema.required)
    if schema.one_of:
        # Kinds that need one of several fields: the branches only carry the hint ("missing", with
        # what each field is); the fields themselves are validated once, above. The kind's check
        # reports the case of both with a clear sentence.
        then["anyOf"] = [
            {"required": [name], "properties": {name: {"x-expected": schema.fields[name]["x-expected"]}}}
            for name in schema.one_of
        ]
    return {"if": condition, "then": then}


# An alert is raw PromQL (expr) or one of the kinds in alert_kinds.KINDS; `kind` selects the branch,
# so a field of another kind is "unknown" with the right list of fields.
ALERT_KIND_NAMES = tuple(KINDS)
ALERT_KINDS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": ALERT["properties"]["name"],
        "kind": {
            "enum": list(ALERT_KIND_NAMES),
            "x-expected": "one of " + ", ".join(ALERT_KIND_NAMES) + " (or no kind and an expr)",
        },
    },
    "required": ["name"],
    "allOf": [
        _kind_branch(None, KindSchema(fields={"expr": PROMQL}, required=("expr",))),
        *(_kind_branch(name, kind.schema()) for name, kind in KINDS.items()),
    ],
}

# --- Notifications -> alertmanager/alertmanager.yml ---------------------------------------------

SECRET_FILE = {"type": "string", "pattern": r"^/", "x-expected": "an absolute path to a file holding the credential"}
# Inline credentials pass the schema so that check/notifications.py can say exactly what to do instead.
SECRET_VALUE = {"type": "string", "x-expected": "an environment placeholder such as ${SLACK_API_URL}"}
HTTP_URL = {"type": "string", "pattern": r"^https?://\S+$", "x-expected": "an http(s) URL"}
TEMPLATE = {"type": "string", "x-expected": "text, optionally with Alertmanager template actions {{ ... }}"}
MATCH = {
    "type": "object",
    "propertyNames": {"pattern": LABEL_NAME["pattern"]},
    "additionalProperties": {"type": "string", "x-expected": "a label value (a string; quote numbers)"},
    "x-expected": "a map of label names to values",
}
MATCHER = {
    "type": "string",
    "pattern": r'^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*".*"\s*$',
    "x-expected": 'a matcher such as severity="page" or team=~"infra|ml"',
}
BASIC_AUTH = _object(
    {"username": {"type": "string"}, "password_file": SECRET_FILE, "password": SECRET_VALUE}, ("username",)
)


def _one_or_many(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "anyOf": [item, {"type": "array", "items": item, "minItems": 1}],
        "x-expected": "one integration (a mapping) or a list of them",
    }


_SEND_RESOLVED = {"type": "boolean", "x-expected": "true to notify when the alert resolves"}
EMAIL = _object(
    {
        "to": {"type": "string", "minLength": 1, "x-expected": "one or more addresses, comma-separated"},
        "from": {"type": "string"},
        "smarthost": HOSTPORT,
        "hello": {"type": "string"},
        "auth_username": {"type": "string"},
        "auth_identity": {"type": "string"},
        "auth_password_file": SECRET_FILE,
        "auth_password": SECRET_VALUE,
        "auth_secret": SECRET_VALUE,
        "require_tls": {"type": "boolean"},
        "headers": {"type": "object", "additionalProperties": TEMPLATE},
        "html": TEMPLATE,
        "text": TEMPLATE,
        "send_resolved": _SEND_RESOLVED,
    },
    ("to",),
)
SLACK = _object(
    {
        "api_url_file": SECRET_FILE,
        "api_url": SECRET_VALUE,
        "channel": {"type": "string"},
        "username": TEMPLATE,
        "title": TEMPLATE,
        "title_link": TEMPLATE,
        "text": TEMPLATE,
        "color": TEMPLATE,
        "icon_emoji": {"type": "string"},
        "send_resolved": _SEND_RESOLVED,
    }
)
PAGERDUTY = _object(
    {
        "routing_key_file": SECRET_FILE,
        "routing_key": SECRET_VALUE,
        "service_key_file": SECRET_FILE,
        "service_key": SECRET_VALUE,
        "url": HTTP_URL,
        "severity": TEMPLATE,
        "description": TEMPLATE,
        "client": TEMPLATE,
        "client_url": TEMPLATE,
        "class": TEMPLATE,
        "component": TEMPLATE,
        "group": TEMPLATE,
        "details": {"type": "object", "additionalProperties": TEMPLATE},
        "send_resolved": _SEND_RESOLVED,
    }
)
TEAMS = _object(
    {
        "proxy_url": {**HTTP_URL, "x-expected": "the URL of a prometheus-msteams proxy (works with any Alertmanager)"},
        "webhook_url_file": SECRET_FILE,
        "webhook_url": SECRET_VALUE,
        "title": TEMPLATE,
        "text": TEMPLATE,
        "send_resolved": _SEND_RESOLVED,
    }
)
WEBHOOK = _object(
    {
        "url": HTTP_URL,
        "send_resolved": _SEND_RESOLVED,
        "max_alerts": {"type": "integer", "minimum": 0},
        "bearer_token_file": SECRET_FILE,
        "bearer_token": SECRET_VALUE,
        "basic_auth": BASIC_AUTH,
    },
    ("url",),
)
INTEGRATIONS = {"email": EMAIL, "slack": SLACK, "pagerduty": PAGERDUTY, "teams": TEAMS, "webhook": WEBHOOK}
RECEIVER = _object(
    {
        "name": NAME,
        **{key: _one_or_many(schema) for key, schema in INTEGRATIONS.items()},
    },
    ("name",),
)

_ROUTE_TIMING = {
    "group_by": {
        "type": "array",
        "items": {"anyOf": [LABEL_NAME, {"const": "..."}]},
        "uniqueItems": True,
        "x-expected": "label names to group by, or ['...'] for no grouping",
    },
    "group_wait": DURATION,
    "group_interval": DURATION,
    "repeat_interval": DURATION,
}
ESCALATION = _object(
    {
        "after": {**DURATION, "x-expected": "how long the alert must keep firing before this receiver hears of it"},
        "receiver": NAME,
        "repeat_interval": DURATION,
    },
    ("after", "receiver"),
)
_ROUTE_FIELDS = {
    "match": MATCH,
    "match_re": {**MATCH, "x-expected": "a map of label names to regular expressions"},
    "matchers": {"type": "array", "items": MATCHER},
    "receiver": NAME,
    **_ROUTE_TIMING,
    "continue": {"type": "boolean", "x-expected": "true to keep matching the routes after this one"},
    "escalate": {"type": "array", "items": ESCALATION, "minItems": 1},
}
CHILD_ROUTE = _object(_ROUTE_FIELDS, ("receiver",))
ROUTE = _object({**_ROUTE_FIELDS, "routes": {"type": "array", "items": CHILD_ROUTE}}, ("receiver",))
ROOT_ROUTE = _object({"receiver": NAME, **_ROUTE_TIMING, "routes": {"type": "array", "items": ROUTE}}, ("receiver",))
INHIBIT_RULE = _object(
    {
        "source": MATCH,
        "source_re": MATCH,
        "target": MATCH,
        "target_re": MATCH,
        "equal": {"type": "array", "items": LABEL_NAME, "uniqueItems": True},
    }
)

NOTIFICATIONS: dict[str, Any] = _object(
    {
        "alertmanager_version": {
            "type": "string",
            "pattern": r"^0\.[0-9]+$",
            "x-expected": "the Alertmanager minor version the config targets, e.g. '0.25'",
        },
        "resolve_timeout": DURATION,
        "smtp": _object(
            {
                "smarthost": HOSTPORT,
                "from": {"type": "string"},
                "hello": {"type": "string"},
                "auth_username": {"type": "string"},
                "auth_password_file": SECRET_FILE,
                "auth_password": SECRET_VALUE,
                "require_tls": {"type": "boolean"},
            }
        ),
        "templates": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "x-expected": "template file globs, relative to alertmanager/ or absolute",
        },
        "receivers": {"type": "array", "items": RECEIVER, "minItems": 1},
        "route": ROOT_ROUTE,
        "inhibit": _object(
            {
                "defaults": {
                    "type": "boolean",
                    "x-expected": "false to drop the built-in rules (page silences ticket of the same SLO; "
                    "HostDown silences that host's alerts)",
                },
                "rules": {"type": "array", "items": INHIBIT_RULE},
            }
        ),
    },
    ("receivers", "route"),
)

# --- Settings: outputs, remote_write, Kubernetes -------------------------------------------------

OUTPUT_FORMATS = ("files", "kubernetes")
REMOTE_WRITE = _object(
    {
        "url": HTTP_URL,
        "name": {"type": "string", "pattern": r"^[a-zA-Z0-9_.-]+$", "x-expected": "a short name for the queue"},
        "remote_timeout": DURATION,
        "bearer_token_file": SECRET_FILE,
        "bearer_token": SECRET_VALUE,
        "basic_auth": BASIC_AUTH,
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "write_relabel": {
            "type": "array",
            "items": {"type": "object"},
            "x-expected": "relabel rules (the Targets relabel format)",
        },
        "send_exemplars": {"type": "boolean"},
    },
    ("url",),
)
SETTINGS_FIELDS: dict[str, Any] = {
    "outputs": {
        "type": "array",
        "items": {"enum": list(OUTPUT_FORMATS)},
        "minItems": 1,
        "uniqueItems": True,
        "x-expected": "output formats: " + ", ".join(OUTPUT_FORMATS),
    },
    "remote_write": {"type": "array", "items": REMOTE_WRITE},
    "kubernetes": _object(
        {
            "namespace": {
                "type": "string",
                "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                "x-expected": "a Kubernetes namespace name",
            },
            "labels": {
                **LABELS,
                "x-expected": "labels every custom resource carries, e.g. release: kube-prometheus-stack",
            },
            "dashboard_label": {
                "type": "string",
                "x-expected": "the Grafana sidecar's label (default grafana_dashboard)",
            },
        }
    ),
}

# --- Targets: Slurm nodelists and Kubernetes monitors --------------------------------------------

SCRAPE_JOB_FIELDS: dict[str, Any] = {
    "slurm": _object(
        {
            "nodelist": {
                "type": "string",
                "pattern": r"^[A-Za-z0-9_.\-\[\],]+$",
                "x-expected": "a Slurm nodelist such as gpu[001-064] or gpu[01-04,07],cpu01",
            },
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "labels": LABELS,
        },
        ("nodelist", "port"),
    ),
    "kubernetes": _object(
        {
            "monitor": {"enum": ["ServiceMonitor", "PodMonitor"]},
            "selector": {**LABELS, "x-expected": "matchLabels of the Services (or Pods) to scrape"},
            "port": {
                "type": "string",
                "minLength": 1,
                "x-expected": "the name of the port to scrape (default metrics)",
            },
            "namespaces": {"type": "array", "items": {"type": "string"}},
        }
    ),
}
