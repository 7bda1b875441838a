"""`promspec check` of alertmanager/alertmanager.yml: amtool check-config plus what amtool does not notice."""

from __future__ import annotations

import glob
import os
import re
import tempfile
from collections.abc import Iterator
from typing import Any

from .gotemplate import TemplateError, check_template
from .tools import Progress, ToolResult, run_tool

CONFIG = os.path.join("alertmanager", "alertmanager.yml")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_URL_KEYS = ("url", "api_url", "webhook_url")
# Receiver fields Alertmanager renders as templates (amtool check-config does not parse them).
_TEMPLATE_KEYS = {
    "html",
    "text",
    "headers",
    "username",
    "color",
    "title",
    "title_link",
    "client",
    "client_url",
    "description",
    "severity",
    "class",
    "component",
    "group",
    "details",
    "message",
    "subject",
}


def _substitute(node: Any, key: str = "") -> Any:
    """The config with ${VAR} placeholders replaced by values of the right shape, for amtool only."""
    if isinstance(node, dict):
        return {k: _substitute(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, key) for v in node]
    if isinstance(node, str) and _PLACEHOLDER.search(node):
        if key in _URL_KEYS:
            return "https://placeholder.invalid/" + _PLACEHOLDER.sub(r"\1", node)
        return _PLACEHOLDER.sub(r"placeholder-\1", node)
    return node


def _walk(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, path + (i,))
    else:
        yield path, node


def _amtool(directory: str, config: dict[str, Any], text: str) -> ToolResult:
    path = os.path.join(directory, CONFIG)
    if not _PLACEHOLDER.search(text):
        return run_tool("amtool", "check-config", path)
    import yaml

    substituted = _substitute(config)
    base = os.path.dirname(os.path.abspath(path))
    substituted["templates"] = [t if os.path.isabs(t) else os.path.join(base, t) for t in config.get("templates", [])]
    if not substituted["templates"]:
        del substituted["templates"]
    with tempfile.TemporaryDirectory(prefix="promspec-amtool-") as tmp:
        copy = os.path.join(tmp, "alertmanager.yml")
        with open(copy, "w", encoding="utf-8") as fh:
            yaml.safe_dump(substituted, fh, sort_keys=False)
        result = run_tool("amtool", "check-config", copy)
    return ToolResult(["amtool", "check-config", path], result.returncode, result.output.replace(copy, path))


def _receiver_templates(config: dict[str, Any]) -> list[str]:
    problems = []
    for i, receiver in enumerate(config.get("receivers") or []):
        for path, value in _walk(receiver):
            keys = [p for p in path if isinstance(p, str)]
            if not isinstance(value, str) or not any(k in _TEMPLATE_KEYS for k in keys[1:]):
                continue
            try:
                check_template(value)
            except TemplateError as exc:
                where = ".".join(str(p) for p in path)
                problems.append(f"receivers[{i}] ({receiver.get('name', '?')}) {where}: template error: {exc}")
    return problems


def check_alertmanager_dir(directory: str, progress: Progress = lambda message: None) -> list[ToolResult]:
    """amtool check-config, template syntax and template globs; missing *_file credentials are warnings."""
    import yaml

    path = os.path.join(directory, CONFIG)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    progress(f"amtool check-config: {CONFIG}")
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return [run_tool("amtool", "check-config", path)]  # amtool says what is wrong
    if not isinstance(config, dict):
        return [run_tool("amtool", "check-config", path)]
    results = [_amtool(directory, config, text)]
    problems = _receiver_templates(config)
    base = os.path.dirname(path)
    for pattern in config.get("templates") or []:
        full = pattern if os.path.isabs(pattern) else os.path.join(base, pattern)
        if not glob.glob(full):
            problems.append(f"templates: {pattern!r} matches no file (relative paths are relative to {base})")
    progress(f"alertmanager templates and files: {CONFIG}")
    results.append(ToolResult(["promspec", "alertmanager-templates", path], 1 if problems else 0, "\n".join(problems)))
    for key_path, value in _walk({k: v for k, v in config.items() if k != "templates"}):
        key = key_path[-1] if key_path else ""
        if isinstance(key, str) and key.endswith("_file") and isinstance(value, str) and not os.path.exists(value):
            progress(
                f"warning: {CONFIG}: {key} {value} does not exist on this machine "
                "(Alertmanager reads it when it notifies; create it on the Alertmanager host)"
            )
    return results
