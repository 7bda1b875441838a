"""Read YAML and Jsonnet spec files into documents that remember where every value came from."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, TypedDict, TypeVar, overload

import yaml

from ..diagnostics import Position, Report

_Loader: type[yaml.CSafeLoader] | type[yaml.SafeLoader]
try:  # libyaml is ~10x faster; positions are the same
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

_RESOLVER = yaml.resolver.Resolver()


# A pure function of the text: the implicit resolvers are PyYAML's fixed table, and no path resolver is added.
@lru_cache(maxsize=65536)
def _plain_tag(value: str) -> str:
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag


class _SpecLoader(_Loader):  # type: ignore[misc,valid-type]
    """The loader, with the tag of a plain scalar looked up once per distinct text: the specs of 1,000 services
    hold 71,000 scalars but a few thousand distinct ones, and each lookup tries PyYAML's regexes in Python."""

    def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _plain_tag(value)
        tag: str = super().resolve(kind, value, implicit)
        return tag


SPEC_SUFFIXES = (".yml", ".yaml", ".json", ".jsonnet")
_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"
_constructor = yaml.constructor.SafeConstructor()

Path = tuple[str | int, ...]  # a field path such as ("spec", "rules", 0, "expr")
Mark = tuple[int, int]  # 1-based (line, column)
_T = TypeVar("_T")

# Bounds on what one document may expand to. A spec nests a dozen levels; Python's recursion
# (and jsonschema's) gives out near 1,000. Aliases are legitimate for sharing a few blocks, but
# a "billion laughs" document of a few hundred bytes expands to billions of nodes.
MAX_DEPTH = 100
MAX_ALIAS_EXPANSION = 100_000  # nodes that aliases may add to a document beyond those written


class NodeIndex(Generic[_T]):
    """path -> a fact about the YAML node there, read lazily from the composed node tree.

    Building a dict of every position up front costs more than the whole rest of loading;
    positions are only needed when something is reported, so they are looked up on demand.
    """

    def __init__(
        self,
        fact: Callable[[yaml.Node, yaml.Node | None], _T | None],
        root: yaml.Node | None = None,
    ):
        self._fact = fact  # (node, key_node) -> value, or None when there is no such fact
        self._root = root
        self._set: dict[Path, _T] = {}

    def _lookup(self, path: Path) -> _T | None:
        if path in self._set:
            return self._set[path]
        node: yaml.Node | None = self._root
        key: yaml.Node | None = None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if key_node.value == part and key_node.tag != _MERGE:
                        node, key = value_node, key_node
                        break
                else:
                    return None
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                node, key = node.value[part], None
            else:
                return None
        return self._fact(node, key) if node is not None else None

    @overload
    def get(self, path: Iterable[str | int], default: None = None) -> _T | None: ...
    @overload
    def get(self, path: Iterable[str | int], default: _T) -> _T: ...
    def get(self, path: Iterable[str | int], default: _T | None = None) -> _T | None:
        found = self._lookup(tuple(path))
        return default if found is None else found

    def __contains__(self, path: Iterable[str | int]) -> bool:
        return self._lookup(tuple(path)) is not None

    def __getitem__(self, path: Iterable[str | int]) -> _T:
        found = self._lookup(tuple(path))
        if found is None:
            raise KeyError(path)
        return found

    def __setitem__(self, path: Iterable[str | int], value: _T) -> None:
        self._set[tuple(path)] = value


def _mark(node: yaml.Node) -> Mark:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Indexes(TypedDict):
    """The lazy position and text indexes of one document, as Document's keyword arguments."""

    positions: NodeIndex[Mark]
    key_positions: NodeIndex[Mark]
    raw: NodeIndex[str]
    styles: NodeIndex[str]


def _scalar_text(node: yaml.Node, key: yaml.Node | None) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


def _scalar_style(node: yaml.Node, key: yaml.Node | None) -> str | None:
    return (node.style or "") if isinstance(node, yaml.ScalarNode) else None


def _indexes(root: yaml.Node) -> _Indexes:
    return {
        "positions": NodeIndex(lambda node, key: _mark(node), root),
        "key_positions": NodeIndex(lambda node, key: _mark(key) if key is not None else None, root),
        "raw": NodeIndex(_scalar_text, root),
        "styles": NodeIndex(_scalar_style, root),
    }


def _no_facts(node: yaml.Node, key: yaml.Node | None) -> None:
    return None


@dataclass
class Document:
    """One spec document: plain data plus where each value came from (file, line, column)."""

    file: str
    index: int
    data: Any
    source: str = ""  # stable path for generated headers: relative to the specs root's parent
    positions: NodeIndex[Mark] = field(default_factory=lambda: NodeIndex(_no_facts))  # path -> (line, col)
    key_positions: NodeIndex[Mark] = field(default_factory=lambda: NodeIndex(_no_facts))  # path -> its key's
    raw: NodeIndex[str] = field(default_factory=lambda: NodeIndex(_no_facts))  # path -> scalar text as written
    styles: NodeIndex[str] = field(default_factory=lambda: NodeIndex(_no_facts))  # path -> '', '|', '>', '"', "'"
    lines: list[str] = field(default_factory=list)  # source lines, to map offsets inside scalars

    @property
    def kind(self) -> str:
        return self.data.get("kind", "") if isinstance(self.data, dict) else ""

    @property
    def name(self) -> str:
        meta = self.data.get("metadata") if isinstance(self.data, dict) else None
        return str(meta.get("name", "")) if isinstance(meta, dict) else ""

    def pos(self, path: Path = (), key: bool = False) -> Position:
        """Position of the value at path (or of its key), else of the nearest ancestor."""
        path = tuple(path)
        if key and path in self.key_positions:
            return Position(self.file, *self.key_positions[path])
        while path not in self.positions and path:
            path = path[:-1]
        line, col = self.positions.get(path, (0, 0))
        return Position(self.file, line, col)

    def pos_of_word(self, path: Path, text: str, word: str, also_before: str = "") -> Position | None:
        """Where the first whole-word occurrence of word inside text (the string at path) is, if any.

        A metric or label name is whole when no name character (or also_before, e.g. "$")
        touches it, so `up` is not found inside `group_up` or `$up`.
        """
        guard = re.escape(also_before)
        m = re.search(rf"(?<![\w:{guard}])" + re.escape(word) + r"(?![\w:])", text) if word else None
        if not m:
            return None
        before = text[: m.start()]
        return self.pos_in_scalar(path, before.count("\n") + 1, m.start() - (before.rfind("\n") + 1) + 1)

    def pos_in_scalar(self, path: Path, line: int, col: int) -> Position:
        """Map a 1-based line:col inside a string value back to the spec file."""
        base = self.pos(path)
        style = self.styles.get(tuple(path))
        if not base.line or style is None:
            return base
        if style in ("|", ">"):
            # Block scalars start on the line after the indicator; find their indent.
            first = base.line  # 0-based index of the first content line
            while first < len(self.lines) and not self.lines[first].strip():
                first += 1
            if first >= len(self.lines):
                return base
            indent = len(self.lines[first]) - len(self.lines[first].lstrip(" "))
            return Position(self.file, first + line, indent + col)
        if line == 1:
            return Position(self.file, base.line, base.col + col - 1 + (1 if style in ('"', "'") else 0))
        return base


class _ShapeError(Exception):
    def __init__(self, node: yaml.Node, message: str):
        super().__init__(message)
        self.node = node
        self.message = message


def _check_shape(root: yaml.Node, aliases: bool = True) -> None:
    """Refuse a node graph that nests too deeply, refers to itself, or expands too far through aliases.

    One pass over the distinct nodes (aliases share them), without recursion, so the check
    itself is cheap whatever the document expands to. aliases=False (the text has no anchor, so
    no node is shared): the graph is a tree, which only its depth can make too large.
    """
    if not aliases:
        _check_depth(root)
        return
    sizes: dict[int, int] = {}  # id(node) -> expanded node count
    depths: dict[int, int] = {}  # id(node) -> expanded depth
    distinct = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    active: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            active.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            depths[key] = 1 + max((depths[id(c)] for c in children), default=0)
            if depths[key] > MAX_DEPTH:
                raise _ShapeError(node, f"YAML document nested more than {MAX_DEPTH} levels deep")
            if sizes[key] - distinct > MAX_ALIAS_EXPANSION:  # blame the first value that grows too large
                raise _ShapeError(
                    node,
                    f"YAML aliases expand this value to {sizes[key]:,} values "
                    f"(more than {MAX_ALIAS_EXPANSION:,} beyond the {distinct:,} written)",
                )
            continue
        if key in sizes:
            continue
        if key in active:
            raise _ShapeError(node, "YAML alias refers to the node that contains it")
        active.add(key)
        distinct += 1
        if len(active) > MAX_DEPTH:
            raise _ShapeError(node, f"YAML document nested more than {MAX_DEPTH} levels deep")
        stack.append((node, True))
        for child in children:
            if id(child) in active:
                raise _ShapeError(child, "YAML alias refers to the node that contains it")
            if id(child) not in sizes:
                stack.append((child, False))


def _check_depth(root: yaml.Node) -> None:
    """_check_shape of a tree, in its order: the first node, depth first, nested more than MAX_DEPTH deep.

    In a tree no value is expanded by an alias or contains itself, and a node whose subtree is too
    deep has a descendant that is visited (and refused) before the node is finished, so only the
    depth of each node on the way down is checked: a third of the cost of loading 1,000 services'
    specs otherwise (tests/unit/test_unit_yaml_shape.py holds both to the same answer)."""
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    pop, push = stack.pop, stack.append
    mapping, sequence = yaml.MappingNode, yaml.SequenceNode
    while stack:
        node, depth = pop()
        if depth > MAX_DEPTH:
            raise _ShapeError(node, f"YAML document nested more than {MAX_DEPTH} levels deep")
        kind = type(node)
        if kind is mapping:
            for key, value in node.value:
                push((key, depth + 1))
                push((value, depth + 1))
        elif kind is sequence:
            for item in node.value:
                push((item, depth + 1))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _convert(node: yaml.Node, path: Path, doc: Document, report: Report) -> Any:
    # The value is whatever the YAML says: the schema, not this function, gives it a shape.
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            key = key_node.value if key_node.tag == _STR else _constructor.construct_object(key_node)
            if not isinstance(key, str):
                # As written: `on:` is the key "on", not YAML 1.1's boolean True.
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key)
            if key in out:
                report.error(
                    Position(doc.file, *_mark(key_node)),
                    f"duplicate key {key!r}",
                    _dotted(path),
                    "each key once per mapping",
                )
            out[key] = _convert(value_node, path + (key,), doc, report)
        for value_node in merges:  # explicit keys win over merged ones
            merged = _convert(value_node, path, doc, report)
            for item in merged if isinstance(merged, list) else [merged]:
                if isinstance(item, dict):
                    for k, v in item.items():
                        out.setdefault(k, v)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, path + (i,), doc, report) for i, item in enumerate(node.value)]
    if node.tag == _STR:  # the common case, without the constructor's bookkeeping
        return node.value
    return _constructor.construct_object(node)


def _dotted(path: Path) -> str:
    """Render a field path the way a person reads it: spec.rules[0].expr."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


dotted = _dotted


def parse_text(text: str, file: str, report: Report) -> list[Document]:
    """Parse a YAML (or JSON) stream into documents; syntax errors go to report."""
    lines = text.splitlines()
    docs: list[Document] = []
    # An alias names an anchor ("&name"); without one no node is shared (an unknown alias is an error).
    aliases = "&" in text
    try:
        for index, node in enumerate(yaml.compose_all(text, Loader=_SpecLoader)):
            if node is None:
                continue
            try:
                _check_shape(node, aliases)
            except _ShapeError as exc:
                report.error(
                    Position(file, *_mark(exc.node)),
                    exc.message,
                    "",
                    f"a spec nested at most {MAX_DEPTH} levels, with aliases that do not multiply it",
                )
                continue
            doc = Document(file, index, None, lines=lines, **_indexes(node))
            doc.data = _convert(node, (), doc, report)
            docs.append(doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        report.error(
            Position(file, mark.line + 1 if mark else 0, mark.column + 1 if mark else 0),
            f"YAML syntax error: {problem}{context}",
            "",
            "well-formed YAML",
        )
    except yaml.YAMLError as exc:
        report.error(Position(file), f"YAML error: {exc}", "", "well-formed YAML")
    return docs


def _evaluate_jsonnet(path: str, display: str, report: Report, roots: list[str]) -> str | None:
    from .jsonnet_eval import evaluate, library_paths

    result = evaluate(path, [*roots, *library_paths()])
    if result.text is not None:
        return result.text
    # Point at the file the evaluator names (an imported library, perhaps), not at the spec's 1:1.
    where = Position(display_path(result.file) if result.file else display, result.line, result.col)
    report.error(where, f"Jsonnet error: {result.message}", "", "a Jsonnet program that evaluates")
    return None


def spec_files(root: str) -> list[str]:
    """Every spec file under root (or root itself), in a stable order."""
    if os.path.isfile(root):
        return [root]
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(SPEC_SUFFIXES) and not name.startswith("."):
                found.append(os.path.join(dirpath, name))
    return found


def display_path(path: str, base: str | None = None) -> str:
    """A stable, relative, forward-slash path for headers and messages."""
    base = base or os.getcwd()
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        rel = path
    if rel.startswith(".."):
        rel = path
    return rel.replace(os.sep, "/")


def load_file(path: str, report: Report, display: str | None = None, roots: list[str] | None = None) -> list[Document]:
    """Load one spec file into documents; problems go to report.

    roots: the directories a Jsonnet file may import from (default: its own directory).
    """
    display = display or display_path(path)
    if path.endswith(".jsonnet"):
        text = _evaluate_jsonnet(path, display, report, roots or [os.path.dirname(os.path.abspath(path))])
        if text is None:
            return []
        # Positions inside the evaluated JSON mean nothing to the author; keep only the path.
        docs = parse_text(text, display, report)
        payload = docs[0].data if docs else None
        items = payload if isinstance(payload, list) else [payload] if payload is not None else []
        return [Document(display, i, item) for i, item in enumerate(items)]
    try:
        # A FIFO or device would block or never end: only regular files are specs.
        if not stat.S_ISREG(os.stat(path).st_mode):
            report.error(
                Position(display),
                "not a regular file (a FIFO, device or socket)",
                "",
                "a spec file or a directory of specs",
            )
            return []
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        report.error(Position(display), f"cannot read spec file: {exc}", "", "a readable UTF-8 file")
        return []
    return parse_text(text, display, report)


def load_paths(paths: Iterable[str], report: Report) -> list[Document]:
    """Load every spec file under the given files or directories."""
    import gc

    # The node trees stay alive for positions; letting the cyclic GC scan them again and again
    # while thousands of files load costs more than the parse. They hold no cycles worth collecting.
    enabled = gc.isenabled()  # generate runs with the collector off throughout (cli.generate): leave it so
    gc.disable()
    try:
        return _load_paths(paths, report)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _load_paths(paths: Iterable[str], report: Report) -> list[Document]:
    docs: list[Document] = []
    for root in paths:
        if not os.path.exists(root):
            report.error(Position(root), "no such file or directory", "", "a spec file or a directory of specs")
            continue
        if not os.path.isdir(root) and not os.path.isfile(root):
            report.error(
                Position(root),
                "not a regular file (a FIFO, device or socket)",
                "",
                "a spec file or a directory of specs",
            )
            continue
        base = os.path.dirname(os.path.abspath(root.rstrip("/\\") or root))
        tree = root if os.path.isdir(root) else os.path.dirname(os.path.abspath(root))
        for path in spec_files(root):
            source = display_path(os.path.abspath(path), base)
            for doc in load_file(path, report, roots=[tree]):
                doc.source = source
                docs.append(doc)
    return docs
