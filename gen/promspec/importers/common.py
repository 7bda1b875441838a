"""What every importer shares: converted documents that keep the source positions, and notes."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..spec.loader import Document

API = "promspec/v1"


@dataclass
class Note:
    """Something in the source that promspec could not carry over (error: the input is wrong)."""

    doc: Document
    path: tuple
    message: str
    error: bool = False
    expected: str = ""


@dataclass
class Draft:
    """A promspec document under construction, mapping its fields to where they came from."""

    source: Document
    data: dict
    origins: dict = field(default_factory=dict)  # new path -> (document, source path)

    def put(self, path: tuple, value, origin: tuple | None = None, doc: Document | None = None):
        """Set data at path (creating mappings/lists on the way) and remember its origin."""
        node = self.data
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

    def _get(self, path: tuple):
        node = self.data
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


def percent(doc: Document, path: tuple, value, scale: int) -> str | None:
    """An objective as written, as promspec's percent string: 99.9 (Sloth) or 0.999 (OpenSLO) -> 99.9%.

    None when the value is not a finite number (a string such as "99.9%", a list, a bool)."""
    from decimal import Decimal, InvalidOperation

    from ..spec.services import number_text

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = Decimal(doc.raw.get(path) or repr(value))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return number_text(number * scale) + "%"


def label_text(doc: Document, path: tuple, value) -> str:
    """A label value as Go's YAML reads it into a string: true stays `true`, 1.50 stays `1.50`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and path in doc.raw:
        return str(doc.raw[path])
    return "" if value is None else str(value)


def labels_text(doc: Document, path: tuple, labels) -> dict:
    return {str(k): label_text(doc, path + (k,), v) for k, v in (labels or {}).items()}


def query_metrics(query: str) -> list[str]:
    """Metric names a query reads ({{window}} placeholders as 5m); [] when it does not parse."""
    from ..compile.promql import PromQLError, analyse

    try:
        return list(analyse(query.replace("{{window}}", "5m")).metrics)
    except PromQLError:
        return []
