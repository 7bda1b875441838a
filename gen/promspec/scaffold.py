"""`promspec init`: a monitoring repository that generates and checks cleanly on the first run.

Pure: scaffold(engines) returns {relative path: text}; the command refuses to overwrite any file
that exists and writes the rest. Thresholds are read from the bundled engine adapters, so every
latency SLO it writes names a real bucket bound of that engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from .backends.adapter import Backend, build_backend
from .backends.bundled import bundled_backends
from .compile.promql import format_duration
from .diagnostics import Report
from .model.loader import load_file

# The TTFT target a new user most often starts from; the nearest bucket bound of the engine is used.
TTFT_TARGET_S = 0.5
SECONDS_UNITS = ("", "s", "seconds")
# Ports the engines listen on by default (their own docs); the user edits targets.yml anyway.
DEFAULT_PORTS = {"vllm": 8000, "sglang": 30000, "tgi": 3000, "llamacpp": 8080, "triton": 8002, "litellm": 4000}


@dataclass(frozen=True, kw_only=True)
class EnginePlan:
    """What init writes for one engine: its scrape job and the SLOs its adapter can express."""

    name: str
    port: int
    errors: bool
    ttft_threshold: str  # "" when the engine has no TTFT histogram in seconds


def load_bundled(name: str) -> Backend:
    report = Report()
    (doc,) = load_file(bundled_backends()[name], report, display=f"<bundled>/backends/{name}.yml")
    return build_backend(doc)


def plan_engine(backend: Backend) -> EnginePlan:
    variant = backend.variant("ttft")
    threshold = ""
    if variant is not None and variant.buckets and not variant.native and variant.unit in SECONDS_UNITS:
        nearest = min(variant.buckets, key=lambda b: (abs(float(b) - TTFT_TARGET_S), float(b)))
        threshold = format_duration(float(nearest))
    return EnginePlan(
        name=backend.name,
        port=DEFAULT_PORTS.get(backend.name, 8000),
        errors=bool(backend.signals.get("errors")) and bool(backend.signals.get("requests")),
        ttft_threshold=threshold,
    )


def _service(plan: EnginePlan) -> str:
    slos = ""
    if plan.errors:
        slos += (
            "    - name: errors\n      description: Requests that finish without an engine error\n"
            "      objective: 99%\n      window: 30d\n      sli: {signal: errors}\n"
        )
    if plan.ttft_threshold:
        slos += (
            f"    - name: ttft\n      description: Time to first token under {plan.ttft_threshold}\n"
            f"      objective: 99%\n      window: 30d\n"
            f"      sli: {{signal: ttft, threshold: {plan.ttft_threshold}}}  # a bucket bound of {plan.name}\n"
        )
    return (
        f"# SLOs of the {plan.name} servers scraped by job {plan.name!r} (targets.yml); the adapter is promspec's\n"
        f"# bundled `{plan.name}` Backend. Add a Backend document named {plan.name} to override it.\n"
        f"apiVersion: promspec/v1\nkind: Service\nmetadata:\n  name: {plan.name}\nspec:\n"
        f"  backend: {plan.name}\n  selector:\n    job: {plan.name}\n  slos:\n{slos}"
    )


def _targets(plans: list[EnginePlan]) -> str:
    jobs = "".join(
        f"    - name: {p.name}\n      targets: [localhost:{p.port}]   # your {p.name} servers\n" for p in plans
    )
    return (
        "# Scrape jobs: one per engine. Replace the targets with your servers' host:port.\n"
        "apiVersion: promspec/v1\nkind: Targets\nmetadata:\n  name: targets\nspec:\n  jobs:\n" + jobs
    )


SETTINGS = """\
apiVersion: promspec/v1
kind: Settings
metadata:
  name: settings
spec:
  scrape_interval: 15s
  evaluation_interval: 15s
"""

MAKEFILE = """\
# `make generate` after editing specs/; CI runs `make check` (stale or invalid output fails it).
PROMSPEC ?= promspec

.PHONY: generate check

generate:
\t$(PROMSPEC) generate specs -o .

check:
\t$(PROMSPEC) generate specs -o . --check
\t$(PROMSPEC) check .
"""

PRE_COMMIT = """\
# pre-commit: validate specs and fail when the committed output is stale (`pre-commit install`).
# Uses the promspec on PATH; hooks of the same ids ship in promspec's own .pre-commit-hooks.yaml.
repos:
  - repo: local
    hooks:
      - id: promspec-validate
        name: promspec validate
        entry: promspec validate specs
        language: system
        pass_filenames: false
        files: ^specs/
      - id: promspec-generate-check
        name: promspec generate --check
        entry: promspec generate specs -o . --check
        language: system
        pass_filenames: false
"""

CI = """\
# GitHub Actions: the same check as `make check`.
name: promspec
on: [push, pull_request]
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {python-version: "3.11"}
      - run: pip install promspec && sudo apt-get install -y --no-install-recommends prometheus
      - run: make check
"""


def plan_engines(engines: list[str]) -> list[EnginePlan]:
    """One plan per named bundled engine, in the order named, duplicates once."""
    return [plan_engine(load_bundled(name)) for name in dict.fromkeys(engines)]


def has_slos(plan: EnginePlan) -> bool:
    return plan.errors or bool(plan.ttft_threshold)


def scaffold(plans: list[EnginePlan]) -> dict[str, str]:
    """Relative path -> text of a new monitoring repository for the planned engines."""
    files = {"specs/settings.yml": SETTINGS, "specs/targets.yml": _targets(plans)}
    for plan in plans:
        if has_slos(plan):
            files[f"specs/services/{plan.name}.yml"] = _service(plan)
    files.update({"Makefile": MAKEFILE, ".pre-commit-config.yaml": PRE_COMMIT, ".github/workflows/promspec.yml": CI})
    return dict(sorted(files.items()))
