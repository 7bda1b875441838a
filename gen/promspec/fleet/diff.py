"""`promspec diff` for fleet/: files per cluster and global tier, and rule groups that change tier."""

from __future__ import annotations

import yaml

from ..diff.model import Change, Subject

SECTION = "Fleet"
ROOT = "fleet"


def _tier(path: str) -> str:
    """'cluster eu' for fleet/clusters/eu/..., 'global (vmalert)' for fleet/global/vmalert/..."""
    parts = path.split("/")
    if len(parts) > 3 and parts[1] == "clusters":
        return f"cluster {parts[2]}"
    if len(parts) > 2 and parts[1] == "global":
        return f"global ({parts[2].removesuffix('.yml')})"
    return "fleet"


def _placements(files: dict[str, bytes]) -> dict[str, set[str]]:
    """Rule group name -> the tiers running it."""
    out: dict[str, set[str]] = {}
    for path, data in files.items():
        if not path.endswith(".yml") or ("/rules/" not in path and not path.startswith("fleet/global/mimir/")):
            continue
        try:
            content = yaml.safe_load(data)
        except yaml.YAMLError:
            continue
        for group in (content or {}).get("groups") or []:
            if isinstance(group, dict) and "name" in group:
                out.setdefault(str(group["name"]), set()).add(_tier(path))
    return out


def compare_fleet(base: dict[str, bytes], head: dict[str, bytes]) -> list[Change]:
    """Every fleet/ file added, removed or changed, and where each rule group runs now."""
    a = {p: b for p, b in base.items() if p.startswith("fleet/")}
    b = {p: d for p, d in head.items() if p.startswith("fleet/")}
    changes = []
    for path in sorted(a.keys() | b.keys()):
        if path.endswith(".promspec-manifest"):
            continue
        who = Subject(plain=f"{_tier(path)}: {path}", md=f"{_tier(path)}: `{path}`")
        kind = "added" if path not in a else "removed" if path not in b else "changed" if a[path] != b[path] else ""
        if kind:
            changes.append(who.change(section=SECTION, file=path, change=kind, message=f"file {kind}"))
    before, after = _placements(a), _placements(b)
    for group in sorted(before.keys() & after.keys()):
        old, new = sorted(before[group]), sorted(after[group])
        if old != new:
            who = Subject(plain=f"rule group {group}", md=f"rule group `{group}`", extra={"rule": group})
            changes.append(
                who.change(
                    section=SECTION,
                    file=f"{ROOT}/",
                    change="moved",
                    message="runs in " + ", ".join(new),
                    before=", ".join(old),
                    after=", ".join(new),
                )
            )
    return changes
