"""Diagnostics: every problem found in specs, with where it is and what was expected."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

# Below this similarity a suggestion misleads more than it helps ('scrape_duration_seconds' for
# 'http_request_duration_seconds_count' scores 0.66); real typos ('severty', 'llm_requests_total',
# 'modle') score 0.8 or more.
SIMILARITY_FLOOR = 0.75


def suggestions(word: str, choices: Iterable[str], n: int = 1) -> list[str]:
    """The choices close enough to word to be what was meant, best first (at most n).

    Close means a similarity of at least SIMILARITY_FLOOR, or one being a prefix of the other
    (a shortened name such as 'chat' for 'chat-vllm').
    """
    word = str(word)
    scored = []
    for choice in dict.fromkeys(str(c) for c in choices):
        if choice == word:
            continue
        ratio = difflib.SequenceMatcher(None, word, choice).ratio()
        shorter = min(len(word), len(choice))
        if ratio >= SIMILARITY_FLOOR or (shorter >= 3 and (choice.startswith(word) or word.startswith(choice))):
            scored.append((-ratio, choice))
    return [choice for _, choice in sorted(scored)[:n]]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the closest choice, or "" when none is close enough."""
    close = suggestions(word, choices)
    return f" (did you mean {close[0]!r}?)" if close else ""


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
    _seen: set[object] = field(default_factory=set, repr=False, compare=False)

    def _add(self, diagnostic: Diagnostic) -> None:
        # Several generated rules can share one source (an SLI's errors and total queries read the
        # same metric): the same problem at the same place is reported, and counted, once.
        if diagnostic not in self._seen:
            self._seen.add(diagnostic)
            self.items.append(diagnostic)

    def error(self, pos: Position, message: str, path: str = "", expected: str = "") -> None:
        self._add(Diagnostic(pos, message, path, expected))

    def warn(self, pos: Position, message: str, path: str = "", expected: str = "") -> None:
        self._add(Diagnostic(pos, message, path, expected, "warning"))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise SpecError(self.errors)
