"""Write a set of output files atomically, or compare them with what is on disk."""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile

STAGING_PREFIX = ".promspec-staging-"
OLD_PREFIX = ".promspec-old-"  # previous output moved aside; present means a swap did not finish
TRASH_PREFIX = ".promspec-trash-"  # previous output after a finished swap; safe to delete
JOURNAL = ".journal"


def managed_roots(files: dict[str, bytes]) -> list[str]:
    """The top-level output directories a file set owns (rules, prometheus, ...)."""
    return sorted({path.split("/", 1)[0] for path in files})


def _rollback(out_dir: str, old: str) -> None:
    """Undo an unfinished swap: every managed root goes back to what it was before."""
    with open(os.path.join(old, JOURNAL), encoding="utf-8") as fh:
        plan = [line.split(" ", 1) for line in fh.read().splitlines() if line]
    for existed, root in plan:
        current = os.path.join(out_dir, root)
        saved = os.path.join(old, root)
        if os.path.exists(saved):
            if os.path.exists(current):
                shutil.rmtree(current)
            os.rename(saved, current)
        elif existed == "0" and os.path.exists(current):
            shutil.rmtree(current)  # a root this swap created


def recover(out_dir: str) -> None:
    """Roll back a swap that was killed half-way, and drop leftovers of finished ones."""
    if not os.path.isdir(out_dir):
        return
    for entry in sorted(os.listdir(out_dir)):
        full = os.path.join(out_dir, entry)
        if entry.startswith(OLD_PREFIX) and os.path.exists(os.path.join(full, JOURNAL)):
            _rollback(out_dir, full)
            shutil.rmtree(full, ignore_errors=True)
        elif entry.startswith((STAGING_PREFIX, TRASH_PREFIX, OLD_PREFIX)):
            shutil.rmtree(full, ignore_errors=True)


def _stage(staging: str, files: dict[str, bytes], roots: list[str]) -> None:
    for root in roots:
        os.makedirs(os.path.join(staging, root), exist_ok=True)
    for path, data in sorted(files.items()):
        target = os.path.join(staging, *path.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        # No fsync per file: a killed process loses nothing from the page cache, and thousands of
        # fsyncs cost seconds. The journal below is synced, which is what recovery relies on.
        with open(target, "wb") as fh:
            fh.write(data)


def write_tree(out_dir: str, files: dict[str, bytes], roots: list[str] | None = None) -> None:
    """Replace the managed directories under out_dir with exactly these files, all or nothing."""
    roots = roots or managed_roots(files)
    os.makedirs(out_dir, exist_ok=True)
    recover(out_dir)
    staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir)
    token = os.path.basename(staging)[len(STAGING_PREFIX):]
    old = os.path.join(out_dir, OLD_PREFIX + token)
    try:
        _stage(staging, files, roots)
        os.makedirs(old)
        # The journal is written before anything moves, so a kill at any later point can be undone.
        journal = "".join(f"{int(os.path.exists(os.path.join(out_dir, r)))} {r}\n" for r in roots)
        with open(os.path.join(old, JOURNAL), "w", encoding="utf-8") as fh:
            fh.write(journal)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            for root in roots:
                current = os.path.join(out_dir, root)
                if os.path.exists(current):
                    os.rename(current, os.path.join(old, root))
                os.rename(os.path.join(staging, root), current)
        except OSError:
            _rollback(out_dir, old)
            raise
        # Committed: from here on, recovery deletes the old output instead of restoring it.
        os.rename(old, os.path.join(out_dir, TRASH_PREFIX + token))
    finally:
        for leftover in (staging, old, os.path.join(out_dir, TRASH_PREFIX + token)):
            shutil.rmtree(leftover, ignore_errors=True)


def write_file(path: str, data: bytes) -> None:
    """Write one file atomically: a temporary file in the same directory, then rename."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".promspec-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
    chunks: list[str] = []
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
