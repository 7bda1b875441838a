"""--probe.config: the LLM probe targets, checked whole before the exporter starts."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import yaml

PROMPT = "Count from 1 to 20, separated by spaces."
MAX_TOKENS_CAP = 256  # a probe measures latency; it must never become load
_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?)(ms|s|m|h)$")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
TARGET_KEYS = {
    "name",
    "url",
    "model",
    "api",
    "interval",
    "timeout",
    "max_tokens",
    "prompt",
    "location",
    "token_file",
    "token_env",
    "budget",
}


class ProbeConfigError(Exception):
    """The probe configuration cannot be used; the message says where and what is expected."""


@dataclass(frozen=True, kw_only=True)
class Budget:
    requests_per_hour: int
    tokens_per_hour: int


@dataclass(frozen=True, kw_only=True)
class Target:
    name: str
    url: str
    model: str
    api: str  # chat or completions
    interval: float
    timeout: float
    max_tokens: int
    prompt: str
    location: str
    token_file: str
    token_env: str
    budget: Budget

    def token(self) -> str:
        """The bearer token, read at each probe so a rotated file is picked up ('' when none)."""
        if self.token_file:
            with open(self.token_file, encoding="utf-8") as fh:
                return fh.read().strip()
        if self.token_env:
            return os.environ.get(self.token_env, "")
        return ""


def _seconds(where: str, value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    m = _DURATION.match(str(value))
    if not m or float(m.group(1)) <= 0:
        raise ProbeConfigError(f"{where}: {value!r} is not a duration; expected e.g. 15s, 500ms or 1m")
    return float(m.group(1)) * _UNIT[m.group(3)]


def _int(where: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProbeConfigError(f"{where}: {value!r} is not an integer from {low} to {high}")
    return value


def _text(where: str, raw: dict[str, Any], key: str, default: str) -> str:
    """raw[key] when it is a string (default when absent); anything else is an error, never its repr."""
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise ProbeConfigError(f"{where}.{key}: {value!r}; expected a string (quote it)")
    return value


def _target(i: int, raw: Any, default_location: str) -> Target:
    where = f"targets[{i}]"
    if not isinstance(raw, dict):
        raise ProbeConfigError(f"{where}: expected a mapping with name, url and model")
    if "token" in raw or "api_key" in raw:
        raise ProbeConfigError(f"{where}: inline tokens are not accepted; expected token_file or token_env")
    unknown = sorted(set(raw) - TARGET_KEYS)
    if unknown:
        raise ProbeConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(TARGET_KEYS))}")
    for key in ("name", "url", "model"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ProbeConfigError(f"{where}.{key}: missing; expected a non-empty string")
    if not _NAME.match(raw["name"]):
        raise ProbeConfigError(f"{where}.name: {raw['name']!r}; expected letters, digits, '.', '_' and '-'")
    if not re.match(r"^https?://[^\s/]+", raw["url"]):
        raise ProbeConfigError(f"{where}.url: {raw['url']!r} is not an http(s) URL of a completions endpoint")
    api = raw.get("api", "completions" if raw["url"].rstrip("/").endswith("/v1/completions") else "chat")
    if api not in ("chat", "completions"):
        raise ProbeConfigError(f"{where}.api: {api!r}; expected chat or completions")
    interval = _seconds(f"{where}.interval", raw.get("interval", "15s"))
    timeout = _seconds(f"{where}.timeout", raw.get("timeout", "10s"))
    if timeout > interval:
        raise ProbeConfigError(f"{where}.timeout: {timeout:g}s is longer than the interval {interval:g}s")
    max_tokens = _int(f"{where}.max_tokens", raw.get("max_tokens", 16), 1, MAX_TOKENS_CAP)
    if raw.get("token_file") and raw.get("token_env"):
        raise ProbeConfigError(f"{where}: both token_file and token_env; expected one")
    budget = raw.get("budget", {})
    if not isinstance(budget, dict) or set(budget) - {"requests_per_hour", "tokens_per_hour"}:
        raise ProbeConfigError(f"{where}.budget: expected {{requests_per_hour: N, tokens_per_hour: N}}")
    requests = _int(f"{where}.budget.requests_per_hour", budget.get("requests_per_hour", 240), 1, 3600)
    tokens = _int(
        f"{where}.budget.tokens_per_hour", budget.get("tokens_per_hour", requests * max_tokens), max_tokens, 10_000_000
    )
    return Target(
        name=raw["name"],
        url=raw["url"],
        model=raw["model"],
        api=api,
        interval=interval,
        timeout=timeout,
        max_tokens=max_tokens,
        prompt=_text(where, raw, "prompt", PROMPT),
        location=_text(where, raw, "location", default_location),
        token_file=_text(where, raw, "token_file", ""),
        token_env=_text(where, raw, "token_env", ""),
        budget=Budget(requests_per_hour=requests, tokens_per_hour=tokens),
    )


def parse(data: Any) -> list[Target]:
    """Targets from a loaded YAML document: {location: ..., targets: [...]}."""
    if not isinstance(data, dict) or not isinstance(data.get("targets"), list) or not data["targets"]:
        raise ProbeConfigError("expected a mapping with a non-empty `targets` list")
    unknown = sorted(set(data) - {"location", "targets"})
    if unknown:
        raise ProbeConfigError(f"unknown key(s) {', '.join(unknown)}; known: location, targets")
    location = _text("probe config", data, "location", "")
    targets = [_target(i, raw, location) for i, raw in enumerate(data["targets"])]
    seen: set[tuple[str, str]] = set()
    for t in targets:
        if (t.name, t.location) in seen:
            raise ProbeConfigError(f"target {t.name!r} at location {t.location!r} is declared twice")
        seen.add((t.name, t.location))
    return targets


def load(path: str) -> list[Target]:
    """Read and check the probe configuration file."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise ProbeConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ProbeConfigError(f"{path}: not YAML: {exc}") from None
    try:
        return parse(data)
    except ProbeConfigError as exc:
        raise ProbeConfigError(f"{path}: {exc}") from None
