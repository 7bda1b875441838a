"""JSON Schema of `kind: Probe`: synthetic checks run by blackbox_exporter from one or more locations."""

from __future__ import annotations

from typing import Any

from .schema_parts import ALERT, DURATION, HOSTPORT, LABELS, NAME, THRESHOLD, _object

MODULES = ("http", "tcp", "icmp", "dns", "grpc")

LOCATION = _object(
    {
        "name": {**NAME, "x-expected": "a location name (the `location` label), e.g. eu-west"},
        "exporter": {**HOSTPORT, "x-expected": "the blackbox_exporter of this location as host:port"},
    },
    ("name", "exporter"),
)

HEADER_VALUE = {
    "anyOf": [
        {"type": "string"},
        _object({"file": {"type": "string", "minLength": 1}}, ("file",)),
    ],
    "x-expected": "a header value, `${ENV_VAR}`, or {file: /path/to/secret}",
}

HTTP = _object(
    {
        "method": {"enum": ["GET", "HEAD", "POST", "PUT", "OPTIONS"]},
        "valid_status_codes": {
            "type": "array",
            "items": {"type": "integer", "minimum": 100, "maximum": 599},
            "minItems": 1,
            "uniqueItems": True,
            "x-expected": "HTTP status codes counted as success, e.g. [200, 204]",
        },
        "body_regex": {
            "type": "string",
            "minLength": 1,
            "x-expected": "a regular expression the response body must match",
        },
        "headers": {
            "type": "object",
            "propertyNames": {"pattern": r"^[A-Za-z0-9-]+$"},
            "additionalProperties": HEADER_VALUE,
            "x-expected": "HTTP header names to values (secrets as ${ENV} or {file: ...})",
        },
        "bearer_token_file": {"type": "string", "minLength": 1},
        "body": {"type": "string"},
        "insecure_skip_verify": {"type": "boolean"},
        "fail_if_not_ssl": {"type": "boolean"},
    }
)

TLS = _object(
    {
        "min_cert_days": {
            "type": "integer",
            "minimum": 1,
            "x-expected": "days a certificate must still be valid for before an alert",
        },
    }
)

DNS = _object(
    {
        "query_name": {"type": "string", "minLength": 1},
        "query_type": {"enum": ["A", "AAAA", "CNAME", "MX", "NS", "SOA", "SRV", "TXT"]},
        "transport": {"enum": ["udp", "tcp"]},
    },
    ("query_name",),
)

GRPC = _object(
    {
        "service": {"type": "string"},
        "tls": {"type": "boolean"},
    }
)

SEVERITY = ALERT["properties"]["severity"]

ALERTS = _object(
    {
        "failing": _object(
            {
                "enabled": {"type": "boolean"},
                "for": DURATION,
                "min_locations": {
                    "type": "integer",
                    "minimum": 1,
                    "x-expected": "how many locations must see the failure (M of K)",
                },
                "severity": SEVERITY,
            }
        ),
        "slow": _object(
            {
                "enabled": {"type": "boolean"},
                "threshold": THRESHOLD,
                "for": DURATION,
                "severity": SEVERITY,
            },
            ("threshold",),
        ),
        "cert_expiry": _object(
            {
                "enabled": {"type": "boolean"},
                "severity": SEVERITY,
            }
        ),
        "labels": LABELS,
    }
)

PROBE: dict[str, Any] = _object(
    {
        "module": {"enum": list(MODULES), "x-expected": "one of " + ", ".join(MODULES)},
        "targets": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "minItems": 1,
            "uniqueItems": True,
            "x-expected": "URLs (http) or host:port (tcp, grpc, dns) or hosts (icmp)",
        },
        "interval": DURATION,
        "timeout": DURATION,
        "labels": LABELS,
        "locations": {
            "type": "array",
            "items": LOCATION,
            "minItems": 1,
            "x-expected": "blackbox_exporter instances: [{name: eu-west, exporter: host:9115}]",
        },
        "http": HTTP,
        "tls": TLS,
        "dns": DNS,
        "grpc": GRPC,
        "alerts": ALERTS,
    },
    ("module", "targets", "locations"),
)
