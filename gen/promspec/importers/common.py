"""What every importer shares: converted documents that keep the source positions, and notes."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..spec.loader import Document

API = "promspec/v1"


@dataclass
class Note:
    """Something in the source that promspec could not carry over."""

    doc: Document
    path: tuple
    message: str


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


def percent(doc: Document, path: tuple, value, scale: int) -> str:
    """An objective as written, as promspec's percent string: 99.9 (Sloth) or 0.999 (OpenSLO) -> 99.9%."""
    from decimal import Decimal

    from ..spec.services import number_text

    return number_text(Decimal(doc.raw.get(path, repr(value))) * scale) + "%"
