"""The engine adapters that ship inside the package, used when a spec names one it does not declare.

gen/promspec/data/backends/*.yml are byte-identical copies of specs/backends/*.yml (`make bundle`
refreshes them; tests/test_adoption_bundled.py fails when they drift), so `backend: vllm` works in an
empty specs directory while the project's own specs/ keeps rendering exactly what it rendered.
A Backend document of the same name in the user's specs wins: bundled ones fill gaps only.
"""

from __future__ import annotations

import os

from ..diagnostics import Report
from ..model.loader import Document, load_file

BUNDLED_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "backends")
# Kinds whose spec.backend names an engine adapter.
_REFERRING_KINDS = ("Service", "Dashboard")


def bundled_backends() -> dict[str, str]:
    """Bundled backend name -> its file (the file stem is the Backend's metadata.name)."""
    if not os.path.isdir(BUNDLED_DIR):
        return {}
    return {
        name[:-4]: os.path.join(BUNDLED_DIR, name) for name in sorted(os.listdir(BUNDLED_DIR)) if name.endswith(".yml")
    }


def referenced_backends(docs: list[Document]) -> list[str]:
    """Backend names that Service and Dashboard documents name, in first-use order."""
    names: dict[str, None] = {}
    for doc in docs:
        spec = doc.data.get("spec") if doc.kind in _REFERRING_KINDS else None
        backend = spec.get("backend") if isinstance(spec, dict) else None
        if isinstance(backend, str) and backend:
            names.setdefault(backend, None)
    return list(names)


def with_bundled_backends(docs: list[Document], report: Report) -> list[Document]:
    """docs plus the bundled Backend documents that they name and do not declare themselves."""
    declared = {doc.name for doc in docs if doc.kind == "Backend"}
    shipped = bundled_backends()
    added: list[Document] = []
    for name in sorted(set(referenced_backends(docs)) - declared):
        if name not in shipped:
            continue  # an unknown backend: the Service check reports it with the names it knows
        for doc in load_file(shipped[name], report, display=f"<bundled>/backends/{name}.yml"):
            doc.source = f"promspec:backends/{name}.yml"
            added.append(doc)
    return docs + added
