"""A `promtool` for the slow tier that remembers passing `promtool test rules` runs by content.

Most `promspec check` runs in the suite cover the bundled output or tests/fixtures/base, so the same unit-test
files (and the same rule files they load) go through promtool dozens of times. This wrapper runs the real promtool
for everything; only a file of `promtool test rules` that passed is remembered, keyed by the real promtool binary, the
test file's bytes and the path and bytes of every rule file it loads, and a later run of byte-identical inputs
replays promtool's output for it (`Unit Testing:  FILE`, `  SUCCESS`) and exit 0. With several files, only those
not remembered run; a failing run is never remembered, and then the whole command as given runs again, so a
failure's output always comes from promtool itself. PROMSPEC_TEST_PROMTOOL_CACHE=0 turns it off (tests/conftest.py).

Run as `python promtool_cache.py ARGS...` with PROMTOOL_CACHE_REAL (the real promtool) and PROMTOOL_CACHE_DIR set.
"""

from __future__ import annotations

import glob
import hashlib
import os
import subprocess
import sys
import tempfile

import yaml


def _digest(real: str, test_file: str) -> str | None:
    """The cache key of `promtool test rules test_file`, or None when the inputs cannot all be read."""
    try:
        with open(test_file, "rb") as fh:
            data = fh.read()
        doc = yaml.safe_load(data)
        stat = os.stat(real)
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(doc, dict):
        return None
    h = hashlib.sha256()
    h.update(f"{real}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    h.update(data)
    base = os.path.dirname(test_file)
    patterns = doc.get("rule_files") or []
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        return None
    # promtool 2.42 resolves rule_files (globs allowed) against the test file's directory.
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.join(base, pattern)))
        h.update(f"\0pattern {pattern} {len(matches)}\0".encode())
        for match in matches:
            try:
                with open(match, "rb") as fh:
                    h.update(f"\0{os.path.relpath(match, base)}\0".encode() + fh.read())
            except OSError:
                return None
    return h.hexdigest()


def _store(path: str, text: str) -> None:
    """Write atomically: pytest-xdist workers share the cache directory."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _success_block(test_file: str) -> str:
    """What promtool 2.42 prints to stdout for one passing file of `promtool test rules`."""
    return f"Unit Testing:  {test_file}\n  SUCCESS\n\n"


def _run(real: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    # The caller's stdout and stderr are often one pipe (promspec's run_tool merges them): keep promtool's
    # interleaving then.
    merged = os.path.samestat(os.fstat(1), os.fstat(2))
    return subprocess.run(
        [real, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merged else subprocess.PIPE, text=True
    )


def _emit(proc: subprocess.CompletedProcess[str]) -> int:
    sys.stdout.write(proc.stdout)
    sys.stdout.flush()
    if proc.stderr:
        sys.stderr.write(proc.stderr)
    return proc.returncode


def main(argv: list[str]) -> int:
    real = os.environ["PROMTOOL_CACHE_REAL"]
    files = argv[2:]
    if argv[:2] != ["test", "rules"] or not files or any(f.startswith("-") for f in files):
        os.execv(real, [real, *argv])
    entries = [_digest(real, f) for f in files]
    if None in entries:
        os.execv(real, [real, *argv])
    cache = os.environ["PROMTOOL_CACHE_DIR"]
    todo = [f for f, key in zip(files, entries, strict=True) if not os.path.exists(os.path.join(cache, str(key)))]
    if todo:
        proc = _run(real, ["test", "rules", *todo])
        # Remember only a run that passed and printed exactly the success lines, file by file.
        if proc.returncode != 0 or proc.stderr or proc.stdout != "".join(_success_block(f) for f in todo):
            # A failure (or anything unexpected) is promtool's own answer to the command as it was given.
            return _emit(proc if len(todo) == len(files) else _run(real, argv))
        for f, key in zip(files, entries, strict=True):
            if f in todo:
                _store(os.path.join(cache, str(key)), "SUCCESS")
    # Every file passed (now or in an earlier run on the same bytes): promtool's output for the whole command.
    sys.stdout.write("".join(_success_block(f) for f in files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
