"""`promspec check` over fleet/ (kind Topology): every tier's files through the tool that will read them.

Clusters: promtool check config on each Prometheus config (one per shard), promtool check rules on the
cluster rule files, vmagent -dryRun on vmagent scrape configs. Global tier: vmalert -dryRun and promtool on
vmalert rule files; for Mimir and Thanos, which are not installable here, JSON Schemas written from their
documentation (data/fleet-schemas/) and promtool on their groups.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from .tools import ToolResult, find_tool, run_tool

Progress = Callable[[str], None]
# The lint check rendered.py runs on rules/: duplicates are fatal, style findings are not.
RULES_LINT = ("--lint=duplicate-rules", "--lint-fatal")
SCHEMAS = {"mimir": "mimirtool-rules", "thanos": "thanos-rules"}


@cache
def fleet_schema(backend: str) -> dict[str, Any]:
    """The JSON Schema of a Mimir (mimirtool rules load) or Thanos Ruler rule file."""
    path = resources.files("promspec") / "data" / "fleet-schemas" / f"{SCHEMAS[backend]}.schema.json"
    loaded: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return loaded


def schema_problems(content: object, backend: str) -> list[str]:
    """Where a rule file breaks its backend's schema: '<path>: <message>' per problem, sorted by path."""
    from jsonschema import Draft202012Validator

    errors = Draft202012Validator(fleet_schema(backend)).iter_errors(content)
    return [
        f"{_where(e.absolute_path)}: {e.message}"
        for e in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])
    ]


def _where(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _files(directory: str, *pattern: str) -> list[str]:
    return sorted(glob.glob(os.path.join(directory, "fleet", *pattern)))


def _promtool_rules(files: list[str]) -> list[ToolResult]:
    return [run_tool("promtool", "check", "rules", *RULES_LINT, *files)] if files else []


def _check_clusters(directory: str, progress: Progress) -> list[ToolResult]:
    results = []
    configs = _files(directory, "clusters", "*", "prometheus*.yml")
    if configs:
        progress(f"promtool check config: {len(configs)} fleet cluster configs")
        results += [run_tool("promtool", "check", "config", c) for c in configs]
    rules = _files(directory, "clusters", "*", "rules", "*.yml")
    if rules:
        progress(f"promtool check rules: {len(rules)} fleet cluster rule files")
        results += _promtool_rules(rules)
    scrapes = _files(directory, "clusters", "*", "vmagent.yml")
    if scrapes:
        progress(f"vmagent -dryRun: {len(scrapes)} fleet vmagent scrape configs")
        find_tool("vmagent")
        # cwd: file_sd paths in the config are relative to it, as they are for the vmagent.args it ships with.
        results += [
            run_tool("vmagent", "-dryRun", f"-promscrape.config={s}", "-loggerLevel=ERROR", cwd=os.path.dirname(s))
            for s in scrapes
        ]
    return results


def _check_vmalert(directory: str, progress: Progress) -> list[ToolResult]:
    rules = _files(directory, "global", "vmalert", "rules", "*.yml")
    if not rules:
        return []
    progress(f"vmalert -dryRun: {len(rules)} fleet global rule files")
    find_tool("vmalert")
    dry = [run_tool("vmalert", "-dryRun", f"-rule={r}", "-loggerLevel=ERROR") for r in rules]
    return dry + _promtool_rules(rules)


def _read_yaml(path: str) -> tuple[object, str]:
    """(content, '') or (None, why it cannot be read)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh), ""
    except (OSError, yaml.YAMLError) as exc:
        return None, f"cannot read: {exc}"


def _check_schema_backend(directory: str, backend: str, files: list[str], progress: Progress) -> list[ToolResult]:
    """One schema result for all of a backend's files, then promtool on their groups (Mimir's without the
    namespace key, which promtool does not know)."""
    if not files:
        return []
    progress(f"{backend} rule file schema and promtool check rules: {len(files)} fleet global files")
    problems: list[str] = []
    groups_only: list[str] = []
    originals: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="promspec-fleet-") as scratch:
        for i, path in enumerate(files):
            rel = os.path.relpath(path, directory)
            content, why = _read_yaml(path)
            found = [why] if why else schema_problems(content, backend)
            problems += [f"{rel}: {p}" for p in found]
            if found or not isinstance(content, dict):
                continue
            if backend == "thanos":
                groups_only.append(path)
                continue
            import yaml

            # Named after the original so promtool's messages still say which file failed.
            plain = os.path.join(scratch, f"{i}-{os.path.basename(path)}")
            with open(plain, "w", encoding="utf-8") as fh:
                yaml.safe_dump({"groups": content["groups"]}, fh, sort_keys=False)
            groups_only.append(plain)
            originals[plain] = path
        schema = ToolResult(
            ["promspec", f"{backend}-schema", os.path.join(directory, "fleet", "global", backend)],
            1 if problems else 0,
            "\n".join(problems),
        )
        checked = _promtool_rules(groups_only)
    return [schema, *(ToolResult(r.command, r.returncode, _restore(r.output, originals)) for r in checked)]


def _restore(output: str, originals: dict[str, str]) -> str:
    """promtool's output with each scratch file named by the file it was made from."""
    for plain, path in originals.items():
        output = output.replace(plain, path)
    return output


def check_fleet_dir(directory: str, progress: Progress = lambda message: None) -> list[ToolResult]:
    """Every check of fleet/ (nothing when the output has no fleet/)."""
    if not os.path.isdir(os.path.join(directory, "fleet")):
        return []
    return [
        *_check_clusters(directory, progress),
        *_check_vmalert(directory, progress),
        *_check_schema_backend(directory, "mimir", _files(directory, "global", "mimir", "*.yml"), progress),
        *_check_schema_backend(directory, "thanos", _files(directory, "global", "thanos", "rules", "*.yml"), progress),
    ]
