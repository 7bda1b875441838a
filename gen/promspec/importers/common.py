"""What every importer shares: converted documents that keep the source positions, and notes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..model.loader import Document

API = "promspec/v1"
Path = tuple[Any, ...]  # a field path: ("spec", "slos", 0, "objective")


@dataclass
class Note:
    """Something in the source that promspec could not carry over (error: the input is wrong)."""

    doc: Document
    path: Path
    message: str
    error: bool = False
    expected: str = ""


@dataclass(frozen=True, kw_only=True)
class Conversion:
    """What an importer made of its documents: promspec documents, and what it could not carry over."""

    documents: list[Document]
    notes: list[Note]


@dataclass(frozen=True, kw_only=True)
class Importer:
    """The interface every importer module exposes as IMPORTER, registered in importers.IMPORTERS.

    detect: whether a loaded document (its data) is of this format.
    convert: all the documents of this format at once (OpenSLO documents refer to each other), in
    input order, to promspec documents whose positions point into the source files.
    """

    name: str  # the FORMAT of `promspec import`
    expected: str  # what a document of this format looks like, for "not a ... document"
    detect: Callable[[object], bool]
    convert: Callable[[list[Document]], Conversion]


@dataclass
class Draft:
    """A promspec document under construction, mapping its fields to where they came from."""

    source: Document
    data: dict[str, Any]
    origins: dict[Path, tuple[Document, Path]] = field(default_factory=dict)  # new path -> (document, source path)

    def put(self, path: Path, value: Any, origin: Path | None = None, doc: Document | None = None) -> Any:
        """Set data at path (creating mappings/lists on the way) and remember its origin."""
        node: Any = self.data
        for i, part in enumerate(path[:-1]):
            nxt = path[i + 1]
            if isinstance(node, list):
                while len(node) <= part:
                    node.append({} if not isinstance(nxt, int) else [])
                node = node[part]
            else:
                node = node.setdefault(part, [] if isinstance(nxt, int) else {})
        last = path[-1]
        if isinstance(node, list):
            while len(node) <= last:
                node.append(None)
            node[last] = value
        else:
            node[last] = value
        if origin is not None:
            self.origins[path] = (doc or self.source, origin)
        return value

    def _get(self, path: Path) -> Any:
        node: Any = self.data
        for part in path:
            node = node[part]
        return node

    def document(self) -> Document:
        """The draft as a Document whose positions point into the source file(s)."""
        src = self.source
        doc = Document(src.file, src.index, self.data, source=src.source, lines=src.lines)
        doc.positions[()] = src.positions.get((), (0, 0))
        for path, (origin_doc, origin) in self.origins.items():
            if origin in origin_doc.positions:
                doc.positions[path] = origin_doc.positions[origin]
            # Keep the text as written only where the value was carried over unchanged.
            if origin in origin_doc.raw and origin_doc.raw[origin] == str(self._get(path)):
                doc.raw[path] = origin_doc.raw[origin]
                doc.styles[path] = origin_doc.styles.get(origin, "")
        return doc


def percent(doc: Document, path: Path, value: object, scale: int) -> str | None:
    """An objective as written, as promspec's percent string: 99.9 (Sloth) or 0.999 (OpenSLO) -> 99.9%.

    None when the value is not a finite number (a string such as "99.9%", a list, a bool)."""
    from decimal import Decimal, InvalidOperation

    from ..compile.promql import number_text

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = Decimal(doc.raw.get(path) or repr(value))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return number_text(number * scale) + "%"


def label_text(doc: Document, path: Path, value: object) -> str:
    """A label value as Go's YAML reads it into a string: true stays `true`, 1.50 stays `1.50`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and path in doc.raw:
        return str(doc.raw[path])
    return "" if value is None else str(value)


def labels_text(doc: Document, path: Path, labels: Mapping[Any, Any] | None) -> dict[str, str]:
    return {str(k): label_text(doc, path + (k,), v) for k, v in (labels or {}).items()}


def query_metrics(query: str) -> list[str]:
    """Metric names a query reads ({{window}} placeholders as 5m); [] when it does not parse."""
    from ..compile.promql import PromQLError, analyse

    try:
        return list(analyse(query.replace("{{window}}", "5m")).metrics)
    except PromQLError:
        return []
