"""The SLO dashboards: the overview, then one per SLO, instantiated from the bundled templates
(gen/promspec/data/dashboards/templates/slo-*.yml) with each SLO's values."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from ...model.dashboards import Dashboard, derive_uid
from ...model.project import RecordingRule
from ..promql import number_text, parse_duration
from .slo_thresholds import enabled_factors
from .templated import DashboardTemplate, Fields, MetricsRead, Subject, instantiate, prepared, template

if TYPE_CHECKING:
    from ...model.project import RuleGroup
    from ...model.services import SLO, Service

SLO_DETAIL, SLO_OVERVIEW = "slo-detail", "slo-overview"
SLO_FOLDER = "slo"  # the folder of an SLO whose service names no team
OVERVIEW_SERVING_LINKS = 5  # the overview links the first few LLM serving dashboards, not one per service
_Made = TypeVar("_Made")  # what slo_presets() makes of each: a Dashboard, or a Preset made lazily


_RATIO_RATE = "slo:sli_error:ratio_rate"


def recorded_windows(records: Iterable[str]) -> list[str]:
    """The alert windows whose error ratio is recorded (slo:sli_error:ratio_rate<window>), shortest first."""
    return list(_sorted_windows(tuple(r.rsplit("ratio_rate", 1)[1] for r in records if r.startswith(_RATIO_RATE))))


def slo_windows(groups: Iterable[RuleGroup]) -> dict[str, tuple[str, ...]]:
    """slo_id -> recorded_windows(the names of the SLO series recorded for it), in one pass over the rules (no
    entry: none)."""
    found: dict[str, list[str]] = {}
    for group in groups:
        for rule in group.rules:
            # isinstance, not getattr's default: an alert (no record) would raise and catch AttributeError
            if isinstance(rule, RecordingRule) and rule.record.startswith(_RATIO_RATE):
                slo_id = rule.labels.get("slo_id")
                if slo_id:
                    found.setdefault(slo_id, []).append(rule.record.rsplit("ratio_rate", 1)[1])
    return {slo_id: _sorted_windows(tuple(windows)) for slo_id, windows in found.items()}


# The windows as recorded (in the rules' order) -> shortest first: 3,000 SLOs record a handful of window lists.
# Sorted from the set built in the order recorded_windows() always built it, so that windows of one duration
# ("60m", "1h") keep the order they had.
@functools.lru_cache(maxsize=1024)
def _sorted_windows(recorded: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(recorded), key=parse_duration))


def slo_uid(slo: SLO) -> str:
    return derive_uid(f"slo-{slo.id}")


def slo_values(slo: SLO, folder: str) -> dict[str, str]:
    """The ${slo.*} values of one SLO."""
    return {
        "slo.id": slo.id,
        "slo.name": slo.name,
        "slo.service": slo.service,
        "slo.objective": slo.objective_text,
        "slo.window": slo.window,
        "slo.uid": slo_uid(slo),
        "slo.folder": folder,
        "slo.summary": slo.description or f"SLO {slo.name} of {slo.service}: {slo.objective_text} over {slo.window}.",
    }


def tier_values(slo: SLO) -> list[dict[str, str]]:
    """The ${tier.*} values of each enabled tier of an SLO, in its order."""
    return [
        {"tier.name": t.name, "tier.long": t.long, "tier.short": t.short, "tier.factor": number_text(factor)}
        for t, factor in zip((t for t in slo.tiers if t.enabled), enabled_factors(slo), strict=True)
    ]


def slo_dashboards(
    services: Sequence[Service],
    groups: Iterable[RuleGroup],
    serving_uid: Mapping[str, str],
    read: MetricsRead | None = None,
) -> list[Dashboard]:
    """The SLO overview, then one dashboard per SLO by service name, for the SLOs kept in promspec's
    conventions (a foreign tool's, Sloth's, record that tool's series: its own dashboard reads them);
    serving_uid: service -> its LLM serving dashboard; read: as instantiate() reads it."""
    return slo_presets(services, groups, serving_uid, lambda t, subject: instantiate(t, subject, read))


def slo_presets(
    services: Sequence[Service],
    groups: Iterable[RuleGroup],
    serving_uid: Mapping[str, str],
    made: Callable[[DashboardTemplate, Subject], _Made],
) -> list[_Made]:
    """slo_dashboards(), each made by made(template, subject) (presets.py: lazily where it can)."""
    teams = {s.name: s.labels.get("team", SLO_FOLDER) for s in services}
    slos = [slo for s in services for slo in s.slos if slo.conventions == "promspec"]
    if not slos:
        return []
    out = [
        made(
            template(SLO_OVERVIEW),
            Subject(
                ref=slos[0].ref,
                values=Fields(),
                lists={
                    "slo": [prepared(slo_values(slo, teams[slo.service])) for slo in slos],
                    "serving": [
                        prepared({"serving.uid": u}) for u in tuple(serving_uid.values())[:OVERVIEW_SERVING_LINKS]
                    ],
                },
                slos=tuple(slos),
            ),
        )
    ]
    detail = template(SLO_DETAIL)
    windows = slo_windows(groups)
    for service in sorted(services, key=lambda s: s.name):
        serving = serving_uid.get(service.name, "")
        for slo in (s for s in service.slos if s.conventions == "promspec"):
            subject = _slo_subject(slo, teams[service.name], windows.get(slo.id, ()), serving)
            out.append(made(detail, subject))
    return out


# recorded windows -> their fields, shared by the SLOs that record the same windows (a handful of sets); the
# fields are read, never written, by the instantiation
_WINDOWS: dict[tuple[str, ...], list[Fields]] = {}


def _window_fields(windows: tuple[str, ...]) -> list[Fields]:
    got = _WINDOWS.get(windows)
    if got is None:
        if len(_WINDOWS) >= 1024:
            _WINDOWS.clear()
        got = _WINDOWS[windows] = [prepared({"window": w}) for w in windows]
    return got


# enabled tiers (and the SLO window their factors divide) -> their fields, shared as the windows' are: SLOs
# repeat a handful of tier sets, and each tier's factor is Decimal arithmetic printed
_TIERS: dict[tuple[object, ...], list[Fields]] = {}


def _tier_fields(slo: SLO) -> list[Fields]:
    # every field of a tier that tier_values() or SLO.factor() reads
    key = (slo.window, *((t.name, t.long, t.short, t.share, t.burn_rate) for t in slo.tiers if t.enabled))
    got = _TIERS.get(key)
    if got is None:
        if len(_TIERS) >= 1024:
            _TIERS.clear()
        got = _TIERS[key] = [prepared(t) for t in tier_values(slo)]
    return got


def slo_subject(slo: SLO, folder: str, records: Iterable[str], serving: str) -> Subject:
    """What the per-SLO template is instantiated for: records, the series recorded for the SLO; serving, the
    uid of its service's LLM serving dashboard, or ""."""
    return _slo_subject(slo, folder, tuple(recorded_windows(records)), serving)


def _slo_subject(slo: SLO, folder: str, windows: tuple[str, ...], serving: str) -> Subject:
    """slo_subject() of the SLO whose records' recorded_windows() are windows."""
    return Subject(
        ref=slo.ref,
        values=prepared(slo_values(slo, folder)),
        lists={
            "tier": _tier_fields(slo),
            "window": _window_fields(windows),
            "serving": [prepared({"serving.uid": serving})] if serving else [],
        },
        slos=(slo,),
    )
