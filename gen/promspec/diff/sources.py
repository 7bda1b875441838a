"""The two sides of a diff: rendered files from a directory, from a git revision, or rendered from specs."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ..compile.build import Build
    from .model import Change

T = TypeVar("T")


def output_roots() -> tuple[str, ...]:
    """Every top-level directory `generate` writes: what a diff reads."""
    from ..render.outputs import ROOTS

    return tuple(ROOTS)


class SourceError(Exception):
    """A side that cannot be read: not a directory, not a git revision, or broken specs."""


def _git(args: list[str], cwd: str) -> str:
    """Run a read-only git command; its stdout, or SourceError with git's message."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SourceError(proc.stderr.strip() or f"git {' '.join(args)} failed")
    return proc.stdout


def git_root(cwd: str = ".") -> str | None:
    """The work tree root of the repository around cwd, or None outside one."""
    try:
        return _git(["rev-parse", "--show-toplevel"], cwd).strip()
    except (SourceError, OSError):
        return None


def default_base(cwd: str = ".") -> str:
    """The merge base of HEAD with main (or master, origin/main, origin/master)."""
    for branch in ("main", "master", "origin/main", "origin/master"):
        try:
            return _git(["merge-base", "HEAD", branch], cwd).strip()
        except SourceError:
            continue
    raise SourceError("no merge base with main or master: name the base revision, e.g. `promspec diff HEAD~1`")


def _read_dir(directory: str, roots: tuple[str, ...]) -> dict[str, bytes]:
    files = {}
    for root in roots:
        base = os.path.join(directory, root)
        for dirpath, dirnames, names in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(names):
                full = os.path.join(dirpath, name)
                with open(full, "rb") as fh:
                    files[os.path.relpath(full, directory).replace(os.sep, "/")] = fh.read()
    return files


def _read_rev(rev: str, repo: str, roots: tuple[str, ...], prefix: str = "") -> dict[str, bytes]:
    """Files under roots at a revision, read with git's object database (nothing is checked out)."""
    paths = [f"{prefix}{r}" for r in roots]
    listing = _git(["ls-tree", "-r", "-z", "--full-tree", rev, "--", *paths], repo)
    entries = []
    for item in filter(None, listing.split("\0")):
        meta, path = item.split("\t", 1)
        _mode, kind, sha = meta.split()
        if kind == "blob":
            entries.append((path, sha))
    if not entries:
        return {}
    proc = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=repo,
        input="".join(f"{sha}\n" for _, sha in entries).encode(),
        capture_output=True,
    )
    if proc.returncode != 0:
        raise SourceError(proc.stderr.decode("utf-8", "replace").strip())
    out, data, pos = {}, proc.stdout, 0
    for path, _sha in entries:
        end = data.index(b"\n", pos)
        size = int(data[pos:end].split()[2])
        out[path[len(prefix) :]] = data[end + 1 : end + 1 + size]
        pos = end + 1 + size + 1
    return out


def is_revision(name: str, repo: str | None) -> bool:
    if repo is None:
        return False
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"], repo)
        return True
    except SourceError:
        return False


def _load(specs_dir: str, label: str = "") -> Build:
    from ..diagnostics import SpecError
    from ..pipeline import load_build

    try:
        build, _report = load_build([specs_dir])
    except SpecError as exc:
        text = str(exc).replace(os.path.dirname(specs_dir) + os.sep, label) if label else str(exc)
        where = f"{label}{os.path.basename(specs_dir)}" if label else specs_dir
        raise SourceError(f"specs in {where} do not load:\n{text}") from None
    return build


def _render(specs_dir: str, label: str = "") -> dict[str, bytes]:
    from ..render.outputs import render_build

    return {p: b for p, b in render_build(_load(specs_dir, label)).items() if p.split("/", 1)[0] in output_roots()}


@dataclass(frozen=True, kw_only=True)
class Causes:
    """Why the output is what it is, from a side's specs: what the rendered files alone cannot say."""

    panels: dict[tuple[str, str], str] = field(default_factory=dict)  # (uid, title) -> why it (or a query) was left out
    dashboards: dict[str, str] = field(default_factory=dict)  # uid -> why the preset was left out
    slis: dict[str, str] = field(default_factory=dict)  # slo id -> the engine signal its SLI reads, and why


def _where(pos: object, specs_dir: str, label: str) -> str:
    root = os.path.dirname(specs_dir) + os.sep
    where = str(pos)
    return label + where[len(root) :] if label and where.startswith(root) else where


def _sli_causes(project: Any, specs_dir: str, label: str) -> dict[str, str]:
    """slo id -> "vllm 0.12: signal errors reads vllm:x{...}: <the adapter's note>, at file:line:col"."""
    out = {}
    for service in project.services:
        backend = project.backends.get(service.backend)
        if backend is None:
            continue
        version = service.backend_version or backend.default_version
        at = service.ref.at("backend_version") if service.backend_version else service.ref.at("backend")
        for slo in service.slos:
            variant = backend.variant(slo.signal, version) if slo.signal else None
            if variant is None:
                continue
            note = variant.note
            selector = f"{variant.metric}{{{variant.matchers}}}" if variant.matchers else variant.metric
            out[slo.id] = (
                f"{backend.name} {version}: signal {slo.signal} reads {selector}"
                + (f" ({note})" if note else "")
                + f", at {_where(at.pos(), specs_dir, label)}"
            )
    return out


def _causes(specs_dir: str, label: str = "") -> Causes:
    """What the side's specs say about its output: presets' left-out panels, SLIs' engine signals."""
    from ..check.vanished_panels import vanished_panels

    build = _load(specs_dir, label)
    project = build.project
    dashes = [built.dashboard for built in build.dashboards.dashboards]
    panels: dict[tuple[str, str], str] = {}
    dashboards: dict[str, str] = {}
    for v in vanished_panels(project, dashes, build.dashboards.left_out):
        cause = v.reason + (f", at {_where(v.pos, specs_dir, label)}" if v.pos is not None else "")
        if v.part == "dashboard":
            dashboards[v.uid] = cause
        else:
            panels[(v.uid, v.panel)] = cause
    return Causes(panels=panels, dashboards=dashboards, slis=_sli_causes(project, specs_dir, label))


def _with_specs(name: str, specs_dir: str, cwd: str, use: Callable[[str, str], T]) -> T:
    """use(path of the side's specs directory, label for messages), for a directory or a git revision
    (its specs are copied to a temporary directory, nothing is checked out)."""
    if os.path.isdir(name):  # a directory wins over a revision of the same name (write rev^{commit})
        return use(os.path.join(name, specs_dir), "")
    repo = git_root(cwd)
    if repo is None or not is_revision(name, repo):
        raise SourceError(f"{name!r} is neither a directory nor a git revision")
    prefix = os.path.relpath(os.path.abspath(cwd), repo).replace(os.sep, "/")
    prefix = "" if prefix == "." else prefix + "/"
    specs = _read_rev(name, repo, (specs_dir,), prefix)
    if not specs:
        raise SourceError(f"revision {name} has no {specs_dir}/ to render")
    with tempfile.TemporaryDirectory(prefix="promspec-diff-") as tmp:
        for path, data in specs.items():
            target = os.path.join(tmp, *path.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
        return use(os.path.join(tmp, specs_dir), f"{name}:")


def read_side(name: str, render_specs: str = "", cwd: str = ".") -> dict[str, bytes]:
    """Rendered output of one side: a directory, a git revision, or (render_specs) its specs."""
    if render_specs:
        return _with_specs(name, render_specs, cwd, _render)
    if os.path.isdir(name):
        return _read_dir(name, output_roots())
    repo = git_root(cwd)
    if repo is None or not is_revision(name, repo):
        raise SourceError(f"{name!r} is neither a directory nor a git revision")
    prefix = os.path.relpath(os.path.abspath(cwd), repo).replace(os.sep, "/")
    prefix = "" if prefix == "." else prefix + "/"
    return _read_rev(name, repo, output_roots(), prefix)


def read_causes(name: str, specs_dir: str = "specs", cwd: str = ".") -> Causes:
    """What the side's specs say about its output (empty when the side has no specs that load: the diff
    then names each change without a cause)."""
    try:
        return _with_specs(name, specs_dir, cwd, _causes)
    except SourceError:
        return Causes()


def may_have_cause(change: Change) -> bool:
    """A change the head's specs may explain: a dashboard or panel removed, a panel's query lost, an SLI."""
    if change.section == "Dashboards" and change.change == "removed":
        return True
    if change.section == "Dashboards" and change.panel is not None and (change.field or "").startswith("targets."):
        return True
    return change.section == "SLOs" and bool(change.rule)


def with_cause(change: Change, causes: Causes) -> Change:
    """change with what the head's specs say about it: left-out preset content's cause, an SLI's engine
    signal."""
    if change.section == "Dashboards" and change.panel is None and change.field is None:
        if change.change == "removed" and (change.uid or "") in causes.dashboards:
            return dataclasses.replace(change, cause=causes.dashboards[change.uid or ""])
        return change
    key = (change.uid or "", change.panel or "")
    # a panel removed, or one of its queries removed or shifted (refIds follow the queries that remain)
    lost = change.change == "removed" or (change.field or "").startswith("targets.")
    if change.section == "Dashboards" and key in causes.panels and lost:
        return dataclasses.replace(change, cause=causes.panels[key])
    if change.section == "SLOs" and change.rule and change.slo in causes.slis:
        return dataclasses.replace(change, cause=causes.slis[change.slo])
    return change
