"""Diagnostics: every problem found in specs, with where it is and what was expected."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Position:
    """A place in a source file; line and col are 1-based."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}" if self.line else f"{self.file}:1:1"


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem: where, the field path, what is wrong and what is expected."""

    pos: Position
    message: str
    path: str = ""
    expected: str = ""
    severity: str = "error"  # "error" or "warning"

    def format(self) -> str:
        where = f" at {self.path}" if self.path else ""
        hint = f"; expected {self.expected}" if self.expected else ""
        label = "" if self.severity == "error" else f"{self.severity}: "
        return f"{self.pos}: {label}{self.message}{where}{hint}"


class SpecError(Exception):
    """Raised with all diagnostics found so far when specs cannot be compiled."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))


@dataclass
class Report:
    """Collects diagnostics across phases so several errors are reported at once."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, pos: Position, message: str, path: str = "", expected: str = "") -> None:
        self.items.append(Diagnostic(pos, message, path, expected))

    def warn(self, pos: Position, message: str, path: str = "", expected: str = "") -> None:
        self.items.append(Diagnostic(pos, message, path, expected, "warning"))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise SpecError(self.errors)
