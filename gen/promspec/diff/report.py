"""A change list as Markdown for a pull-request comment, or as JSON for tools."""

from __future__ import annotations

import json

from .compare import SECTIONS, Change

EMPTY = "No changes to rules, alerts, SLOs or dashboards."


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _block(before: str, after: str) -> list[str]:
    """A ```diff block: every line of before as '-', of after as '+' (expressions are short)."""
    lines = ["  ```diff"]
    lines += [f"  - {line}" for line in before.splitlines()]
    lines += [f"  + {line}" for line in after.splitlines()]
    return lines + ["  ```"]


def markdown(changes: list[Change], base: str, head: str) -> str:
    """The change report a reviewer reads: one bullet per change, expressions as diff blocks."""
    out = [f"### promspec diff `{base}` → `{head}`", ""]
    if not changes:
        return "\n".join(out + [EMPTY]) + "\n"
    counts = ", ".join(
        f"{s.lower()}: {sum(1 for c in changes if c.section == s)}"
        for s in SECTIONS
        if any(c.section == s for c in changes)
    )
    out += [f"{len(changes)} change{'s' if len(changes) != 1 else ''} ({counts}).", ""]
    for section in SECTIONS:
        items = [c for c in changes if c.section == section]
        if not items:
            continue
        out += [f"#### {section}", ""]
        for c in items:
            multi = "\n" in c.before or "\n" in c.after or len(c.before) + len(c.after) > 100
            if (c.before or c.after) and "->" not in c.message:
                if multi or c.message.endswith("changed") or c.message in ("added", "removed"):
                    out.append(f"- {c.subject}: {c.message}")
                    out += _block(c.before, c.after)
                else:
                    out.append(f"- {c.subject}: {c.message}: {_code(c.before)} -> {_code(c.after)}")
            else:
                out.append(f"- {c.subject}: {c.message}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def as_json(changes: list[Change], base: str, head: str) -> str:
    """{"base", "head", "changes": [{section, subject, message, before, after}]}."""
    return (
        json.dumps(
            {"base": base, "head": head, "changes": [c.as_dict() for c in changes]}, indent=2, ensure_ascii=False
        )
        + "\n"
    )
