"""The JSON Schema fragment of kind Topology (listed in model/schemas.py)."""

from __future__ import annotations

from typing import Any

from ..model.ops_schema import HTTP_URL
from ..model.schema_parts import HOSTPORT, LABEL_NAME, LABELS, NAME, _object

BACKENDS = ("victoriametrics", "mimir", "thanos")
SCRAPERS = ("prometheus", "vmagent")

CLUSTER = _object(
    {
        "name": NAME,
        "external_labels": {
            **LABELS,
            "x-expected": "a map of label names to values; it must set the topology's cluster_label",
        },
        "targets": {
            "type": "array",
            "items": {**NAME, "x-expected": "the metadata.name of a Targets document"},
            "minItems": 1,
            "x-expected": "names of Targets documents this cluster scrapes",
        },
        "shards": {
            "type": "integer",
            "minimum": 1,
            "maximum": 256,
            "x-expected": "how many scrapers share this cluster's targets (Prometheus hashmod or vmagent "
            "-promscrape.cluster.*), 1 to 256",
        },
        "scraper": {
            "enum": list(SCRAPERS),
            "x-expected": "prometheus (the default: each shard a Prometheus) or vmagent (vmagent members scrape "
            "and write to the cluster's Prometheus, which runs the rules)",
        },
        "receiver": {
            **HTTP_URL,
            "x-expected": "with scraper: vmagent, the base URL of the cluster's Prometheus that receives the "
            "vmagents' samples (--web.enable-remote-write-receiver), e.g. http://prometheus-eu:9090",
        },
    },
    ("name", "external_labels", "targets"),
)

GLOBAL_TIER = _object(
    {
        "backend": {"enum": list(BACKENDS), "x-expected": "victoriametrics, mimir or thanos"},
        "url": {**HTTP_URL, "x-expected": "the store's base URL, e.g. http://victoria-metrics:8428"},
        "tenant": {
            "type": "string",
            "minLength": 1,
            "x-expected": "the tenant (Mimir X-Scope-OrgID, Thanos Receive THANOS-TENANT)",
        },
        "namespace": {**NAME, "x-expected": "the Mimir ruler namespace (default: promspec)"},
        "query_url": {**HTTP_URL, "x-expected": "where the ruler queries (Thanos Query); default: url"},
        "alertmanagers": {"type": "array", "items": HOSTPORT, "minItems": 1},
        "per_cluster_alerts": {
            "type": "boolean",
            "x-expected": "true to also alert per cluster on each SLO's burn, naming the cluster",
        },
        "send": {
            "enum": ["recorded", "all"],
            "x-expected": "recorded (only recording-rule series leave a cluster, the default) or all",
        },
    },
    ("backend", "url"),
)

TOPOLOGY: dict[str, Any] = _object(
    {
        "cluster_label": {**LABEL_NAME, "x-expected": "the external label naming a cluster (default: cluster)"},
        "clusters": {"type": "array", "items": CLUSTER, "minItems": 1},
        "global": GLOBAL_TIER,
    },
    ("clusters", "global"),
)
