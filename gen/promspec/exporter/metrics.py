"""Metric families for collectors, and a fast renderer of the Prometheus text format."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple, NoReturn

from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

_new_sample = tuple.__new__
# Sample's fields after (name, labels, value) and their defaults: their number varies by prometheus_client version.
_SAMPLE_DEFAULTS = tuple(Sample._field_defaults[field] for field in Sample._fields[3:])


class Spec(NamedTuple):
    """What one exposed family is: its type, help text and every label it may carry."""

    type: str
    help: str
    labels: tuple[str, ...] = ()


# (name, type, help) -> a family validated by Metric's constructor, whose fields new families copy:
# the constructor's name check costs more than the family's samples on a small host. Bounded by
# the spec tables (families are named by code, never by what a scrape reads).
_FAMILY_FIELDS: dict[tuple[str, str, str], dict[str, object]] = {}
_new_object = object.__new__


def new_family(name: str, typ: str, help_text: str) -> Metric:
    """An empty family for the exposed name `name` (counters are named with their _total)."""
    family = _new_object(Metric)
    # A copy of the fields given as the new family's __dict__: a third less than updating an empty one.
    own = _family_fields(name, typ, help_text).copy()
    own["samples"] = []
    family.__dict__ = own
    return family


def _family_fields(name: str, typ: str, help_text: str) -> dict[str, object]:
    key = (name, typ, help_text)
    fields = _FAMILY_FIELDS.get(key)
    if fields is None:
        # prometheus_client keeps counter families under their base name and adds _total itself.
        base = name[:-6] if typ == "counter" and name.endswith("_total") else name
        fields = _FAMILY_FIELDS[key] = dict(vars(Metric(base, help_text, typ)))
        del fields["samples"]
    return fields


class RenderedFamily(Metric):
    """A family whose text-format lines were written as its samples came, for the text renderer to join.

    `lines` are the family's sample lines, exactly as render_text() would write them from the
    samples; the Samples are made (from `rows`, or by `make_samples`) only when something reads
    them (the OpenMetrics encoder, tests), so a text scrape never builds a Sample per series. Once
    they are made, the renderer writes from them instead: whatever is done to them, the text follows.
    """

    lines: list[str]
    rows: list[tuple[dict[str, str], float]]  # (labels, value) of each sample named `sample_name`
    sample_name: str
    text_lines: bool  # False for a counter's _created samples, which the text format leaves out
    make_samples: Callable[[], list[Sample]] | None

    def __init__(self, name: str, typ: str, help_text: str, lines: list[str], make_samples: Callable[[], list[Sample]]):
        self.__dict__ = _rendered_fields(name, typ, help_text, lines, [], make_samples)

    @property  # Metric's plain attribute, made here on first read
    def samples(self) -> list[Sample]:
        made: list[Sample] | None = self.__dict__.get("_samples")
        if made is None:
            make = self.make_samples
            made = make() if make is not None else make_samples(self.sample_name, self.rows)
            self.__dict__["_samples"] = made
        return made

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        self.__dict__["_samples"] = value


def _rendered_fields(
    name: str,
    typ: str,
    help_text: str,
    lines: list[str],
    rows: list[tuple[dict[str, str], float]],
    make: Callable[[], list[Sample]] | None,
) -> dict[str, object]:
    fields = _family_fields(name, typ, help_text).copy()
    fields["lines"] = lines
    fields["rows"] = rows
    fields["sample_name"] = name
    fields["text_lines"] = _text_lines(name, typ)
    fields["make_samples"] = make
    return fields


def make_samples(name: str, series: Iterable[tuple[dict[str, str], float]]) -> list[Sample]:
    """A Sample named `name` per (labels, value), as prometheus_client's families hold them."""
    return [_new_sample(Sample, (name, labels, value, *_SAMPLE_DEFAULTS)) for labels, value in series]


class Families:
    """The families of one collection, created on their first sample, in first-use order.

    Each sample's text line is written as it is added (its series text kept across scrapes, its
    value formatted once). A text scrape joins those lines under each family's header with no
    family object at all (text_into); the families are made (metrics()) only for what reads them,
    the OpenMetrics encoder or a caller of collect(), and their Samples only when read.
    """

    __slots__ = ("_built", "_headers", "_lines", "_rows", "_specs")

    def __init__(self, specs: dict[str, Spec]):
        self._specs = specs
        # name -> the family's '# HELP'/'# TYPE' text, in first-use order: the families' order.
        self._headers: dict[str, str] = {}
        self._rows: dict[str, list[tuple[dict[str, str], float]]] = {}
        # name -> its sample lines; absent for a counter's _created family, which the text format leaves out.
        self._lines: dict[str, list[str]] = {}
        self._built: dict[str, RenderedFamily] = {}

    def add(self, name: str, labels: dict[str, str], value: float) -> None:
        """Add one sample to the family `name`, which must be in the spec table."""
        rows = self._rows.get(name)
        if rows is None:
            rows = self._start(name)
        rows.append((labels, value))
        lines = self._lines.get(name)
        if lines is not None:
            if type(labels) is SeriesLabels:
                prefix = labels.texts.get(name) or labels.text(name)
            elif not labels:  # most host series: no key to build
                prefix = _plain_text.get(name) or _plain(name)
            else:
                prefix = _series_text.get((name, *labels.items())) or series_text(name, labels)
            # format_value() in line for the usual float, as render_text() does.
            if type(value) is _FLOAT:
                text = repr(value)
                if text[-2:] == ".0":
                    if -1e15 < value < 1e15:
                        text = text[:-2] if value else "0"
                else:
                    text = _SPECIAL_REPR.get(text, text)
                lines.append(f"{prefix}{text}\n")
            elif type(value) is _INT and -1e15 < value < 1e15:  # counters and sizes: format_value()'s int rule
                lines.append(f"{prefix}{value}\n")
            else:
                lines.append(f"{prefix}{format_value(value)}\n")

    def add_all(self, name: str, series: Iterable[tuple[dict[str, str], float]]) -> None:
        """Add a (labels, value) sample per item to the family `name`."""
        for labels, value in series:
            self.add(name, labels, value)

    def _start(self, name: str) -> list[tuple[dict[str, str], float]]:
        spec = self._specs[name]
        key = (name, spec.type, spec.help)
        start = _FAMILY_STARTS.get(key)
        if start is None:
            # The header of the family metrics() makes (a counter's kept under its base name).
            start = _FAMILY_STARTS[key] = _FamilyStart(
                header=_header(str(_family_fields(*key)["name"]), spec.type, spec.help),
                text_lines=_text_lines(name, spec.type),
            )
        self._headers[name] = start.header
        if start.text_lines:
            self._lines[name] = []
        rows: list[tuple[dict[str, str], float]] = []
        self._rows[name] = rows
        return rows

    def text_into(self, out: list[str]) -> bool:
        """Append the families' text-format lines to out; False (nothing appended) once metrics() has made the
        families, whose Samples a reader may have replaced: the text is then rendered from those."""
        if self._built:
            return False
        lines = self._lines
        for name, header in self._headers.items():
            out.append(header)
            own = lines.get(name)
            if own:
                out += own
        return True

    def metrics(self) -> list[Metric]:
        """The families that got at least one sample (made on the first call; later samples still join them)."""
        built = self._built
        for name in self._headers:
            if name not in built:
                spec = self._specs[name]
                family = _new_object(RenderedFamily)
                # The same lists as the text path's: a sample added later is in both.
                family.__dict__ = _rendered_fields(
                    name, spec.type, spec.help, self._lines.get(name, []), self._rows[name], None
                )
                built[name] = family
        return list(built.values())


def _text_lines(name: str, typ: str) -> bool:
    """Whether the text format writes a family's samples: not a counter's _created ones."""
    return not (typ == "counter" and name.endswith("_created"))


# Float reprs that are not Prometheus's spelling; every other float repr is, less a trailing '.0'.
_SPECIAL_REPR = {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}
_FLOAT = float
_INT = int


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it: integers without '.0', +Inf, -Inf, NaN."""
    if type(value) is _FLOAT:
        # One repr() instead of int() conversions: collectors hand over floats almost always.
        text = repr(value)
        if text[-2:] == ".0":
            # repr writes integral floats below 1e16 as digits + '.0'; at 1e15 and above Prometheus
            # keeps the '.0', and -0.0 is written 0.
            if -1e15 < value < 1e15:
                return text[:-2] if value else "0"
            return text
        return _SPECIAL_REPR.get(text, text)
    if type(value) is _INT:
        return str(value) if -1e15 < value < 1e15 else repr(float(value))
    return _format_other(value)


def _format_other(value: float) -> str:
    # bools, float and int subclasses: the general rule.
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _escape_label(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


# (name, type, help) -> the family's '# HELP' and '# TYPE' lines; bounded like the family table.
_HEADERS: dict[tuple[str, str, str], str] = {}
HEADERS_MAX = 4096


def _header(name: str, typ: str, documentation: str) -> str:
    key = (name, typ, documentation)
    text = _HEADERS.get(key)
    if text is None:
        exposed = name + "_total" if typ == "counter" else name + "_info" if typ == "info" else name
        text = f"# HELP {exposed} {_escape_help(documentation)}\n# TYPE {exposed} {_TEXT_TYPES[typ]}\n"
        if len(_HEADERS) >= HEADERS_MAX:
            _HEADERS.clear()
        _HEADERS[key] = text
    return text


_TEXT_TYPES = {
    "counter": "counter",
    "gauge": "gauge",
    "histogram": "histogram",
    "summary": "summary",
    "unknown": "untyped",
    "info": "gauge",
    "stateset": "gauge",
}

# Series text ('name{labels} ') by (name, label items): only values change between scrapes, so each
# series' name and escaped labels are rendered once. Bounded (a few MB at most; a 128-CPU host with
# 8 HGX GPUs serves about 2,100 series): a churning label set empties it when full, never grows it.
SERIES_CACHE_MAX = 16_384
_series_text: dict[tuple[object, ...], str] = {}


def _render_series(name: str, labels: dict[str, str]) -> str:
    if not labels:
        return f"{name} "
    rendered = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
    return f"{name}{{{rendered}}} "


def _unchangeable(*args: object, **kwargs: object) -> NoReturn:
    raise TypeError("a SeriesLabels is never changed (the renderer keeps its text): make a new one")


class SeriesLabels(dict[str, str]):
    """A label set a collector keeps for a series across scrapes, never changed (changing it raises).

    The renderer keeps each of its series' text on it, found without building a key from its items
    (a third of the text renderer's time on a 128-CPU host). Collectors keep them in KeptLabels.
    """

    __slots__ = ("texts",)

    def __init__(self, labels: dict[str, str]):
        super().__init__(labels)
        self.texts: dict[str, str] = {}  # sample name -> 'name{labels} '

    def text(self, name: str) -> str:
        """'name{labels} ' for this label set, rendered once per sample name."""
        text = self.texts.get(name)
        if text is None:
            text = self.texts[name] = _render_series(name, self)
        return text

    __setitem__ = __delitem__ = __ior__ = _unchangeable
    update = pop = popitem = clear = setdefault = _unchangeable


class KeptLabels:
    """One collector's SeriesLabels by label values, bounded: a churning set of devices empties it when full."""

    __slots__ = ("_max", "_names", "_sets")

    def __init__(self, names: tuple[str, ...], max_sets: int = 4096):
        self._names = names
        self._sets: dict[tuple[str, ...], SeriesLabels] = {}
        self._max = max_sets

    def get(self, values: tuple[str, ...]) -> SeriesLabels:
        """The label set with these values (in the order of the names), made the first time."""
        kept = self._sets.get(values)
        if kept is None:
            if len(self._sets) >= self._max:
                self._sets.clear()
            kept = self._sets[values] = SeriesLabels(dict(zip(self._names, values, strict=True)))
        return kept


# name -> 'name ' for series without labels; bounded like the family table (names come from code).
_plain_text: dict[str, str] = {}


@dataclass(frozen=True, kw_only=True)
class _FamilyStart:
    """What a family of Families starts with, the same on every scrape."""

    header: str  # its '# HELP' and '# TYPE' lines
    text_lines: bool  # whether the text format writes its samples


# (name, type, help) -> how a family of Families starts, bounded like _FAMILY_FIELDS.
_FAMILY_STARTS: dict[tuple[str, str, str], _FamilyStart] = {}


def _plain(name: str) -> str:
    text = _plain_text[name] = f"{name} "
    return text


def series_text(name: str, labels: dict[str, str]) -> str:
    """'name{k="v",...} ' (or 'name ') for one series, labels escaped, from the cache when seen before."""
    key = (name, *labels.items())
    text = _series_text.get(key)
    if text is None:
        text = _render_series(name, labels)
        if len(_series_text) >= SERIES_CACHE_MAX:
            _series_text.clear()
        _series_text[key] = text
    return text


def render_text(metrics: Iterable[Metric | Families]) -> bytes:
    """Render families (and Families, each its families in turn) in the Prometheus text format 0.0.4."""
    # prometheus_client's generic encoder costs about 3x the uncached path per sample; scrapes are hot.
    out: list[str] = []
    for item in metrics:
        if isinstance(item, Families):
            if item.text_into(out):
                continue
            families: Iterable[Metric] = item.metrics()
        else:
            families = (item,)
        for metric in families:
            _render_family(out, metric)
    return "".join(out).encode()


def _render_family(out: list[str], metric: Metric) -> None:
    """Append one family's header and sample lines to out."""
    append = out.append
    cached = _series_text.get
    kept = SeriesLabels
    typ = metric.type
    append(_HEADERS.get((metric.name, typ, metric.documentation)) or _header(metric.name, typ, metric.documentation))
    if type(metric) is RenderedFamily and "_samples" not in metric.__dict__:
        out += metric.lines
        return
    skip_created = typ == "counter"
    plain = ""  # the last sample name found not to be a _created one (families repeat one name object)
    for sample in metric.samples:
        sample_name, labels, value = sample[0], sample[1], sample[2]
        if skip_created and sample_name is not plain:
            if sample_name.endswith("_created"):
                continue
            plain = sample_name
        if type(labels) is kept:
            prefix = labels.texts.get(sample_name) or labels.text(sample_name)
        else:
            prefix = cached((sample_name, *labels.items())) or series_text(sample_name, labels)
        # format_value() in line for the usual float (a call per sample is a tenth of the renderer's time).
        if type(value) is _FLOAT:
            text = repr(value)
            if text[-2:] == ".0":
                if -1e15 < value < 1e15:
                    text = text[:-2] if value else "0"
            else:
                text = _SPECIAL_REPR.get(text, text)
            append(f"{prefix}{text}\n")
        else:
            append(f"{prefix}{format_value(value)}\n")
