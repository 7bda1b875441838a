"""Write a set of output files atomically, or compare them with what is on disk."""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile

STAGING_PREFIX = ".promspec-staging-"
OLD_PREFIX = ".promspec-old-"


def managed_roots(files: dict[str, bytes]) -> list[str]:
    """The top-level output directories a file set owns (rules, prometheus, ...)."""
    return sorted({path.split("/", 1)[0] for path in files})


def _recover(out_dir: str) -> None:
    """Put back directories a killed swap had moved aside, then drop leftovers."""
    for entry in sorted(os.listdir(out_dir)):
        full = os.path.join(out_dir, entry)
        if entry.startswith(OLD_PREFIX) and os.path.isdir(full):
            for root in os.listdir(full):
                if not os.path.exists(os.path.join(out_dir, root)):
                    os.rename(os.path.join(full, root), os.path.join(out_dir, root))
            shutil.rmtree(full, ignore_errors=True)
        elif entry.startswith(STAGING_PREFIX):
            shutil.rmtree(full, ignore_errors=True)


def write_tree(out_dir: str, files: dict[str, bytes], roots: list[str] | None = None) -> None:
    """Replace the managed directories under out_dir with exactly these files."""
    roots = roots or managed_roots(files)
    os.makedirs(out_dir, exist_ok=True)
    _recover(out_dir)
    staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir)
    old = os.path.join(out_dir, OLD_PREFIX + os.path.basename(staging)[len(STAGING_PREFIX):])
    try:
        for root in roots:
            os.makedirs(os.path.join(staging, root), exist_ok=True)
        for path, data in sorted(files.items()):
            target = os.path.join(staging, *path.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        os.makedirs(old)
        moved = []
        try:
            for root in roots:
                current = os.path.join(out_dir, root)
                if os.path.exists(current):
                    os.rename(current, os.path.join(old, root))
                moved.append(root)
                os.rename(os.path.join(staging, root), current)
        except OSError:
            for root in moved:  # roll back what was swapped so far
                current = os.path.join(out_dir, root)
                if os.path.exists(os.path.join(old, root)):
                    if os.path.exists(current):
                        shutil.rmtree(current)
                    os.rename(os.path.join(old, root), current)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _existing(out_dir: str, roots: list[str]) -> dict[str, bytes]:
    found = {}
    for root in roots:
        base = os.path.join(out_dir, root)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, out_dir).replace(os.sep, "/")
                with open(full, "rb") as fh:
                    found[rel] = fh.read()
    return found


def diff_tree(out_dir: str, files: dict[str, bytes], roots: list[str] | None = None) -> str:
    """A unified diff from what is on disk to what would be written; empty when up to date."""
    roots = roots or managed_roots(files)
    current = _existing(out_dir, roots)
    chunks = []
    for path in sorted(set(current) | set(files)):
        old, new = current.get(path), files.get(path)
        if old == new:
            continue
        old_lines = old.decode("utf-8", "replace").splitlines(keepends=True) if old is not None else []
        new_lines = new.decode("utf-8", "replace").splitlines(keepends=True) if new is not None else []
        chunks.extend(difflib.unified_diff(old_lines, new_lines,
                                           fromfile=f"a/{path}" if old is not None else "/dev/null",
                                           tofile=f"b/{path}" if new is not None else "/dev/null"))
        if chunks and not chunks[-1].endswith("\n"):
            chunks[-1] += "\n"
    return "".join(chunks)
