"""Validate kubernetes/ resources against prometheus-operator's CRD schemas (vendored under data/).

The API server prunes fields a CRD does not know without saying so; here they are errors, so a
typo cannot silently drop a setting.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

from .tools import Progress, ToolResult

CRD_KINDS = ("PrometheusRule", "ServiceMonitor", "PodMonitor")
CONFIGMAP_LIMIT = 1024 * 1024  # etcd's object size limit caps a ConfigMap at 1 MiB
_DNS = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _strict(node: Any) -> Any:
    """The schema with unknown fields forbidden and Go-only regex syntax made Python-compatible."""
    if isinstance(node, list):
        return [_strict(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if isinstance(out.get("pattern"), str) and out["pattern"].startswith("^(?i)"):
        out["pattern"] = "(?i)^" + out["pattern"][len("^(?i)") :]
    return out


@cache
def validator(kind: str) -> Any:  # a jsonschema Draft4Validator (jsonschema is untyped)
    """A JSON Schema validator for one custom resource kind."""
    from jsonschema import Draft4Validator

    text = (resources.files("promspec") / "data" / "prometheus-operator-crds" / f"{kind}.json").read_text("utf-8")
    return Draft4Validator(_strict(json.loads(text)))


def _where(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _list_map_keys(schema: dict[str, Any], node: Any, path: tuple[str | int, ...], problems: list[str]) -> None:
    """x-kubernetes-list-type: map lists must not repeat their keys (the API server rejects them)."""
    if isinstance(node, list) and schema.get("x-kubernetes-list-type") == "map":
        keys = schema.get("x-kubernetes-list-map-keys", [])
        seen = set()
        for i, item in enumerate(node):
            if not isinstance(item, dict):  # not an object: the type check reports it
                continue
            key = tuple(item.get(k) for k in keys)
            if key in seen:
                problems.append(
                    f"{_where(path + (i,))}: duplicate {', '.join(keys)} {key[0] if len(key) == 1 else key}"
                )
            seen.add(key)
    if isinstance(node, list):
        for i, item in enumerate(node):
            _list_map_keys(schema.get("items", {}), item, path + (i,), problems)
    elif isinstance(node, dict):
        for key, value in node.items():
            sub = schema.get("properties", {}).get(key)
            if sub is not None:
                _list_map_keys(sub, value, path + (key,), problems)


def validate_resource(resource: Any) -> list[str]:
    """Problems with one resource: CRD schema, repeated list keys, names, ConfigMap size."""
    if not isinstance(resource, dict):
        return ["not a Kubernetes object (a mapping with apiVersion, kind, metadata)"]
    problems = []
    kind = resource.get("kind")
    name = (resource.get("metadata") or {}).get("name", "")
    if not isinstance(name, str) or len(name) > 253 or not _DNS.match(name):
        problems.append(f"metadata.name {name!r} is not a DNS-1123 name (lowercase letters, digits, '-', '.')")
    if kind in CRD_KINDS:
        if resource.get("apiVersion") != "monitoring.coreos.com/v1":
            problems.append(f"apiVersion {resource.get('apiVersion')!r}: expected monitoring.coreos.com/v1")
        v = validator(kind)
        for error in sorted(v.iter_errors(resource), key=lambda e: list(map(str, e.absolute_path))):
            problems.append(f"{_where(error.absolute_path)}: {error.message}")
        _list_map_keys(v.schema, resource, (), problems)
    elif kind == "ConfigMap":
        size = sum(len(str(v).encode()) for v in (resource.get("data") or {}).values())
        if size > CONFIGMAP_LIMIT:
            problems.append(f"data is {size} bytes; a ConfigMap holds at most {CONFIGMAP_LIMIT} (1 MiB)")
    return problems


def check_kubernetes_dir(directory: str, progress: Progress = lambda message: None) -> list[ToolResult]:
    """Validate every resource under directory/kubernetes; one result for all of them."""
    import yaml

    files = sorted(glob.glob(os.path.join(directory, "kubernetes", "**", "*.yaml"), recursive=True))
    files = [f for f in files if os.path.basename(f) != "kustomization.yaml"]
    if not files:
        return []
    progress(f"prometheus-operator CRD schemas: {len(files)} resources in kubernetes/")
    problems = []
    for path in files:
        rel = os.path.relpath(path, directory)
        try:
            with open(path, encoding="utf-8") as fh:
                docs = [d for d in yaml.safe_load_all(fh) if d is not None]
        except (OSError, yaml.YAMLError) as exc:
            problems.append(f"{rel}: cannot read: {exc}")
            continue
        for doc in docs:
            problems += [f"{rel}: {p}" for p in validate_resource(doc)]
    return [
        ToolResult(
            ["promspec", "kubernetes-crds", os.path.join(directory, "kubernetes")],
            1 if problems else 0,
            "\n".join(problems),
        )
    ]
