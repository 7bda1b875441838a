"""A change list as Markdown for a pull-request comment, or as JSON for tools."""

from __future__ import annotations

import json
import os

from .model import SECTIONS, Change
from .text import line_diff

EMPTY = "No changes to the rendered output."


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _block(before: str, after: str) -> list[str]:
    """A ```diff block of before -> after: unchanged lines as context, a long text only around its changes."""
    return ["  ```diff", *(f"  {line}" for line in line_diff(before, after)), "  ```"]


def _link(path: str, relative_to: str) -> str:
    if "://" in path:
        return path
    return os.path.relpath(path, relative_to).replace(os.sep, "/")


def markdown(changes: list[Change], base: str, head: str, relative_to: str = ".") -> str:
    """The change report a reviewer reads: one bullet per change, expressions and texts as diff blocks,
    panel images (when rendered) linked under their panel's first change. Image links are relative to
    relative_to (the report's directory) unless they are URLs."""
    out = [f"### promspec diff `{base}` → `{head}`", ""]
    if not changes:
        return "\n".join(out + [EMPTY]) + "\n"
    counts = ", ".join(
        f"{s.lower()}: {sum(1 for c in changes if c.section == s)}"
        for s in SECTIONS
        if any(c.section == s for c in changes)
    )
    out += [f"{len(changes)} change{'s' if len(changes) != 1 else ''} ({counts}).", ""]
    shown: set[tuple[str | None, int | None, str | None, str | None]] = set()
    for section in SECTIONS:
        items = [c for c in changes if c.section == section]
        if not items:
            continue
        out += [f"#### {section}", ""]
        for c in items:
            subject = c.md_subject or c.subject
            cause = f" ({c.cause})" if c.cause else ""
            multi = "\n" in c.before or "\n" in c.after or len(c.before) + len(c.after) > 100
            said = "->" in c.message or (c.before in c.message and c.after in c.message and not multi)
            if c.before == c.after:
                out.append(f"- {subject}: {c.message}{cause}")
            elif multi or (not said and (c.message.endswith("changed") or c.change != "changed")):
                out.append(f"- {subject}: {c.message}{cause}")
                out += _block(c.before, c.after)
            elif (c.before or c.after) and not said:
                out.append(f"- {subject}: {c.message}: {_code(c.before)} -> {_code(c.after)}{cause}")
            else:
                out.append(f"- {subject}: {c.message}{cause}")
            key = (c.uid, c.panel_id, c.image_before, c.image_after)
            if (c.image_before or c.image_after) and key not in shown:
                shown.add(key)
                pics = [
                    f"![{label}]({_link(path, relative_to)})"
                    for label, path in (("before", c.image_before), ("after", c.image_after))
                    if path
                ]
                out.append("  " + " ".join(pics))
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def as_json(changes: list[Change], base: str, head: str) -> str:
    """{"base", "head", "changes": [{section, file, change, subject, uid, panel_id, panel, rule, slo, field,
    message, before, after, cause, image_before, image_after}]}: every key in every change, null when it
    does not apply; plain text, no Markdown."""
    return (
        json.dumps(
            {"base": base, "head": head, "changes": [c.as_dict() for c in changes]}, indent=2, ensure_ascii=False
        )
        + "\n"
    )
