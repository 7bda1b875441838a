"""One change of the rendered output, as a reviewer reads it and as tools read it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# Report order; every rendered file kind falls in one of them ("Other files" when no comparer knows it).
SECTIONS = (
    "Alerts",
    "Recording rules",
    "SLOs",
    "Rule tests",
    "Dashboards",
    "Scrape config",
    "Alertmanager",
    "Kubernetes",
    "Blackbox",
    "Fleet",
    "Other files",
)
# The JSON keys of every change, always all present (null when they do not apply), in this order.
JSON_KEYS = (
    "section",
    "file",
    "change",
    "subject",
    "uid",
    "panel_id",
    "panel",
    "rule",
    "slo",
    "field",
    "message",
    "before",
    "after",
    "cause",
    "image_before",
    "image_after",
)
KINDS = ("added", "removed", "changed", "renamed", "moved")


@dataclass(frozen=True, kw_only=True)
class Change:
    """One change a reviewer should read: where (file, dashboard uid, panel, rule, field), what, before, after."""

    section: str
    file: str  # the rendered file, head side (base side when removed)
    change: str  # one of KINDS
    subject: str  # plain words: "alert HighErrorRate", "dashboard 'Chat latency', panel 'Queue'"
    message: str  # plain words: "for 5m -> 10m", "query A: expression changed"
    uid: str | None = None
    panel_id: int | None = None
    panel: str | None = None
    rule: str | None = None
    slo: str | None = None
    field: str | None = None  # dotted path of what changed: "for", "labels.severity", "targets.A.expr"
    before: str = ""
    after: str = ""
    cause: str | None = None  # why, when the output alone does not say (a panel whose metric vanished)
    image_before: str | None = None
    image_after: str | None = None
    # The subject with Markdown emphasis, for the Markdown report only (never in JSON).
    md_subject: str = dataclasses.field(default="", compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in JSON_KEYS}


def with_images(change: Change, before: str | None, after: str | None) -> Change:
    return dataclasses.replace(change, image_before=before, image_after=after)


@dataclass(frozen=True, kw_only=True)
class Subject:
    """Who a change is about, in plain words and in Markdown."""

    plain: str
    md: str
    extra: dict[str, Any] = field(default_factory=dict)  # uid, panel_id, panel, rule, slo

    def change(self, *, section: str, file: str, change: str, message: str, **kw: Any) -> Change:
        return Change(
            section=section,
            file=file,
            change=change,
            subject=self.plain,
            md_subject=self.md,
            message=message,
            **{**self.extra, **kw},
        )
