"""Evaluate one Jsonnet spec in a child process: imports confined, time and memory bounded.

A spec is code. Evaluated in promspec's own process it could read any file
(`importstr '/proc/self/environ'` puts the environment into rules and CI logs), loop forever, or
take all memory, and a C extension busy evaluating does not see Ctrl-C. In a child process with
an import callback that only serves files under the allowed directories, a wall-clock deadline
and an address-space limit, each of those is an error at the spec's position instead.

Run as `python -m promspec.model.jsonnet_eval FILE ROOT...`: the JSON result on stdout, or
the evaluator's message on stderr and exit status 1.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

TIMEOUT_S = 30.0  # wall clock for one file; generous for real specs, short for a runaway loop
MEMORY_BYTES = 2 << 30  # address space of the evaluator
JPATH_ENV = "PROMSPEC_JSONNET_PATH"  # library directories (os.pathsep-separated), like jsonnet -J
TIMEOUT_ENV = "PROMSPEC_JSONNET_TIMEOUT"

# "STATIC ERROR: file:3:7: msg" or a runtime trace line "\tfile:3:7-12\t..." (also "file:(3:7)-(4:1)").
_WHERE = re.compile(r"(?P<file>[^\s:][^:\n\t]*):\(?(?P<line>\d+):(?P<col>\d+)")


@dataclass(frozen=True, kw_only=True)
class JsonnetResult:
    """The JSON text a file evaluated to, or the error that stopped it and where it points."""

    text: str | None = None
    message: str = ""
    file: str = ""  # the file the error is in (an imported library, perhaps), as the evaluator names it
    line: int = 0
    col: int = 0


def library_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """Directories named by PROMSPEC_JSONNET_PATH (set by `promspec -J DIR`)."""
    value = (os.environ if env is None else env).get(JPATH_ENV, "")
    return [p for p in value.split(os.pathsep) if p]


def _inside(path: str, roots: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _locate(message: str) -> tuple[str, int, int]:
    """The first file:line:col the evaluator's message names: where the problem is."""
    for line in message.splitlines():
        body = line.split("ERROR: ", 1)[1] if "ERROR: " in line else line.strip()
        m = _WHERE.match(body)
        if m:
            return m.group("file"), int(m.group("line")), int(m.group("col"))
    return "", 0, 0


def evaluate(path: str, roots: list[str]) -> JsonnetResult:
    """Evaluate path in a child process; roots are the directories its imports may read."""
    timeout = float(os.environ.get(TIMEOUT_ENV, "") or TIMEOUT_S)
    cmd = [sys.executable, "-m", "promspec.model.jsonnet_eval", path, *roots]
    env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "PATH": os.environ.get("PATH", "")}
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, preexec_fn=_limit_memory, check=False)
    except subprocess.TimeoutExpired:
        return JsonnetResult(
            message=f"evaluation did not finish within {timeout:g} s (set {TIMEOUT_ENV} to allow longer)"
        )
    if proc.returncode == 0:
        return JsonnetResult(text=proc.stdout.decode("utf-8"))
    message = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode < 0 or not message or "MemoryError" in message or "std::bad_alloc" in message:
        message = (
            f"evaluation stopped (exit {proc.returncode}): it ran out of its "
            f"{MEMORY_BYTES >> 30} GiB of memory or crashed"
        )
        return JsonnetResult(message=message)
    file, line, col = _locate(message)
    first = message.splitlines()[0].strip()
    if file:  # the position is reported as the diagnostic's own; do not repeat it in the text
        first = re.sub(r"(ERROR: )" + re.escape(file) + r":[0-9():-]+:? ?", r"\1", first, count=1)
    return JsonnetResult(message=first, file=file, line=line, col=col)


def _limit_memory() -> None:  # pragma: no cover - runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def _main(argv: list[str]) -> int:
    import _jsonnet

    path, roots = argv[0], [os.path.realpath(r) for r in argv[1:]]

    def load(base: str, rel: str) -> tuple[str, bytes]:  # the shape _jsonnet's import callback returns
        for directory in ([base] if not os.path.isabs(rel) else [""]) + roots:
            candidate = os.path.normpath(os.path.join(directory, rel))
            if not os.path.isfile(candidate):
                continue
            if not _inside(candidate, roots):
                raise RuntimeError(
                    f"import {rel!r} is outside the specs and library directories "
                    f"(add its directory with promspec -J DIR)"
                )
            with open(candidate, "rb") as fh:
                return candidate, fh.read()
        raise RuntimeError(f"import {rel!r} not found in {base or '.'} or the library directories")

    try:
        sys.stdout.write(_jsonnet.evaluate_file(path, import_callback=load))
    except RuntimeError as exc:
        sys.stderr.write(str(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
