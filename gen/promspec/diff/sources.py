"""The two sides of a diff: rendered files from a directory, from a git revision, or rendered from specs."""

from __future__ import annotations

import os
import subprocess
import tempfile

ROOTS = ("rules", "dashboards")  # what a semantic diff reads: rule files and dashboards


class SourceError(Exception):
    """A side that cannot be read: not a directory, not a git revision, or broken specs."""


def _git(args: list, cwd: str) -> str:
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


def _read_dir(directory: str, roots: tuple) -> dict[str, bytes]:
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


def _read_rev(rev: str, repo: str, roots: tuple, prefix: str = "") -> dict[str, bytes]:
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


def _render(specs_dir: str, label: str = "") -> dict[str, bytes]:
    from ..diagnostics import SpecError
    from ..pipeline import load_build
    from ..render.outputs import render_build

    try:
        build, _report = load_build([specs_dir])
    except SpecError as exc:
        text = str(exc).replace(os.path.dirname(specs_dir) + os.sep, label) if label else str(exc)
        where = f"{label}{os.path.basename(specs_dir)}" if label else specs_dir
        raise SourceError(f"specs in {where} do not load:\n{text}") from None
    return {p: b for p, b in render_build(build).items() if p.split("/", 1)[0] in ROOTS}


def read_side(name: str, render_specs: str = "", cwd: str = ".") -> dict[str, bytes]:
    """Rendered rules and dashboards of one side: a directory, a git revision, or (render_specs) its specs."""
    repo = git_root(cwd)
    if os.path.isdir(name):  # a directory wins over a revision of the same name (write rev^{commit})
        if render_specs:
            return _render(os.path.join(name, render_specs))
        return _read_dir(name, ROOTS)
    if repo is None or not is_revision(name, repo):
        raise SourceError(f"{name!r} is neither a directory nor a git revision")
    prefix = os.path.relpath(os.path.abspath(cwd), repo).replace(os.sep, "/")
    prefix = "" if prefix == "." else prefix + "/"
    if not render_specs:
        return _read_rev(name, repo, ROOTS, prefix)
    specs = _read_rev(name, repo, (render_specs,), prefix)
    if not specs:
        raise SourceError(f"revision {name} has no {render_specs}/ to render")
    with tempfile.TemporaryDirectory(prefix="promspec-diff-") as tmp:
        for path, data in specs.items():
            target = os.path.join(tmp, *path.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
        return _render(os.path.join(tmp, render_specs), f"{name}:")
