"""The Notifications model: receivers, routes with escalation, inhibition, SMTP and templates.

Built once from a schema-valid Notifications document; compile/alertmanager.py renders it and
check/notifications.py checks it, neither reading the document again. Routing structure is typed;
an integration's (and SMTP's) own settings are Alertmanager's keys, validated by the schema and kept
as written, because they are copied to alertmanager.yml one for one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .loader import Document
from .project import Labels, Ref

DEFAULT_VERSION = "0.25"  # Debian 12's prometheus-alertmanager: the oldest we render for
INTEGRATION_KINDS = ("email", "slack", "pagerduty", "teams", "webhook")  # the order checks visit them in


@dataclass(frozen=True, kw_only=True)
class Integration:
    """One email/slack/pagerduty/teams/webhook entry of a receiver."""

    kind: str
    ref: Ref  # receivers[i].<kind>, or receivers[i].<kind>[j] when written as a list
    settings: dict[str, Any]  # Alertmanager's fields of this kind, as written


@dataclass(frozen=True, kw_only=True)
class Receiver:
    name: str
    ref: Ref
    integrations: list[Integration] = field(default_factory=list)  # by kind (INTEGRATION_KINDS), then as written


@dataclass(frozen=True, kw_only=True)
class Escalation:
    """A later receiver that hears of the alert only if it still fires `after` this long."""

    after: str
    receiver: str
    ref: Ref
    repeat_interval: str = ""


@dataclass(frozen=True, kw_only=True)
class Route:
    """The root route or one below it; the root has no matchers, escalation or continue."""

    receiver: str
    ref: Ref
    match: Labels = field(default_factory=dict)
    match_re: Labels = field(default_factory=dict)
    matchers: list[str] = field(default_factory=list)
    group_by: list[str] | None = None  # None: not written (the root then groups by DEFAULT_GROUP_BY)
    group_wait: str = ""
    group_interval: str = ""
    repeat_interval: str = ""
    continue_: bool = False
    escalate: list[Escalation] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class InhibitRule:
    ref: Ref
    source: Labels | None = None  # None: not written; an inhibition rule needs source or source_re
    source_re: Labels | None = None
    target: Labels | None = None
    target_re: Labels | None = None
    equal: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Smtp:
    ref: Ref
    settings: dict[str, Any]  # Alertmanager's smtp_* globals without the prefix, as written


@dataclass(frozen=True, kw_only=True)
class Notifications:
    """One Notifications document: what alertmanager/alertmanager.yml says."""

    ref: Ref  # the document's spec
    receivers: list[Receiver]
    route: Route
    alertmanager_version: str = DEFAULT_VERSION
    resolve_timeout: str = ""
    smtp: Smtp | None = None
    templates: list[str] = field(default_factory=list)
    inhibit_defaults: bool = True  # the built-in inhibition rules (compile/alertmanager.py)
    inhibit_rules: list[InhibitRule] = field(default_factory=list)

    @property
    def doc(self) -> Document:
        return self.ref.doc

    @property
    def version(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.alertmanager_version.split("."))


def _integrations(node: Mapping[str, Any], ref: Ref) -> list[Integration]:
    out = []
    for kind in INTEGRATION_KINDS:
        if kind not in node:
            continue
        value = node[kind]
        if isinstance(value, list):
            out += [Integration(kind=kind, ref=ref.at(kind, j), settings=dict(v)) for j, v in enumerate(value)]
        else:
            out.append(Integration(kind=kind, ref=ref.at(kind), settings=dict(value)))
    return out


def _route(node: Mapping[str, Any], ref: Ref) -> Route:
    return Route(
        receiver=node["receiver"],
        ref=ref,
        match=dict(node.get("match", {})),
        match_re=dict(node.get("match_re", {})),
        matchers=list(node.get("matchers", [])),
        group_by=list(node["group_by"]) if "group_by" in node else None,
        group_wait=node.get("group_wait", ""),
        group_interval=node.get("group_interval", ""),
        repeat_interval=node.get("repeat_interval", ""),
        continue_=node.get("continue", False),
        escalate=[
            Escalation(
                after=step["after"],
                receiver=step["receiver"],
                ref=ref.at("escalate", i),
                repeat_interval=step.get("repeat_interval", ""),
            )
            for i, step in enumerate(node.get("escalate", []))
        ],
        routes=[_route(child, ref.at("routes", i)) for i, child in enumerate(node.get("routes", []))],
    )


def _optional_labels(node: Mapping[str, Any], key: str) -> Labels | None:
    return dict(node[key]) if key in node else None


def _inhibit_rule(node: Mapping[str, Any], ref: Ref) -> InhibitRule:
    return InhibitRule(
        ref=ref,
        source=_optional_labels(node, "source"),
        source_re=_optional_labels(node, "source_re"),
        target=_optional_labels(node, "target"),
        target_re=_optional_labels(node, "target_re"),
        equal=list(node.get("equal", [])),
    )


def build_notifications(doc: Document) -> Notifications:
    """The model of a schema-valid Notifications document."""
    spec = doc.data["spec"]
    ref = Ref(doc, ("spec",))
    inhibit = spec.get("inhibit", {})
    return Notifications(
        ref=ref,
        receivers=[
            Receiver(name=r["name"], ref=ref.at("receivers", i), integrations=_integrations(r, ref.at("receivers", i)))
            for i, r in enumerate(spec["receivers"])
        ],
        route=_route(spec["route"], ref.at("route")),
        alertmanager_version=spec.get("alertmanager_version", DEFAULT_VERSION),
        resolve_timeout=spec.get("resolve_timeout", ""),
        smtp=Smtp(ref=ref.at("smtp"), settings=dict(spec["smtp"])) if "smtp" in spec else None,
        templates=list(spec.get("templates", [])),
        inhibit_defaults=inhibit.get("defaults", True),
        inhibit_rules=[_inhibit_rule(r, ref.at("inhibit", "rules", i)) for i, r in enumerate(inhibit.get("rules", []))],
    )
