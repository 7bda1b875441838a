"""Parse-time checks of Go text/template strings as Alertmanager reads them (amtool check-config does not).

Covers what Go rejects when it parses a template: unclosed actions and strings, unbalanced
parentheses, control structures without their {{ end }} (or an end without one), {{ else }} outside
if/range/with, and calls of functions that are not defined.
"""

from __future__ import annotations

import functools
import re

# Go's text/template builtins, which both Alertmanager and Prometheus templates have.
GO_BUILTINS = frozenset(
    {
        "and",
        "or",
        "not",
        "len",
        "index",
        "slice",
        "print",
        "printf",
        "println",
        "html",
        "js",
        "urlquery",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "call",
    }
)
# Alertmanager 0.25's template functions.
FUNCTIONS = GO_BUILTINS | {
    "toUpper",
    "toLower",
    "title",
    "join",
    "match",
    "safeHtml",
    "reReplaceAll",
    "stringSlice",
}
# Prometheus 2.42's alert templates (labels and annotations), and the variables it declares before
# expanding. Measured with promtool check rules.
PROMETHEUS_FUNCTIONS = GO_BUILTINS | {
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "reReplaceAll",
    "safeHtml",
    "match",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "sortByLabel",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "pathPrefix",
    "externalURL",
    "parseDuration",
    "stripPort",
    "stripDomain",
}
PROMETHEUS_VARIABLES = frozenset({"$", "$labels", "$externalLabels", "$externalURL", "$value"})
_OPENERS = {"if", "range", "with", "define", "block"}
_WORDS = {
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    "nil",
    "true",
    "false",
}
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`|\'(?:[^\'\\\n]|\\.)*\'|[()|]|[^\s()|"`\']+')
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


class TemplateError(ValueError):
    """A template Go would refuse to parse; offset is where in the text the problem is."""

    def __init__(self, offset: int, message: str):
        super().__init__(message)
        self.offset = offset


def _commands(action: str, base: int) -> list[tuple[int, str]]:
    """(offset, first word) of every command of the action's pipelines, checking quotes and parentheses."""
    firsts = []
    depth = 0
    expect_command = True
    pos = 0
    while pos < len(action):
        if action[pos].isspace():
            pos += 1
            continue
        m = _TOKEN.match(action, pos)
        token = m.group(0) if m else action[pos]  # an opening quote without its closing one matches no token
        if token[0] in "\"`'" and (len(token) < 2 or token[-1] != token[0]):
            raise TemplateError(base + pos, "unterminated quoted string")
        if token in ("(", "|"):
            if token == "(":
                depth += 1
            expect_command = True
        elif token == ")":
            depth -= 1
            if depth < 0:
                raise TemplateError(base + pos, "unexpected right parenthesis")
            expect_command = False
        else:
            if expect_command:
                firsts.append((base + pos, token))
            expect_command = False
        pos += len(token)
    if depth > 0:
        raise TemplateError(base + len(action), "unclosed left parenthesis")
    return firsts


_QUOTED = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`|\'(?:[^\'\\\n]|\\.)*\'')
_VARIABLE = re.compile(r"\$[A-Za-z0-9_]*")


def _check_variables(action: str, base: int, declared: set[str]) -> None:
    """Go refuses a template that uses a variable nobody declared ({{ $foo }})."""
    bare = _QUOTED.sub(lambda m: " " * len(m.group(0)), action)
    head, assign, _rest = bare.partition(":=") if ":=" in bare else ("", "", bare)
    if assign:  # {{ $x := ... }} or {{ range $i, $e := ... }}: the names before := are declared
        declared.update(_VARIABLE.findall(head))
    for m in _VARIABLE.finditer(bare, len(head) + len(assign) if assign else 0):
        if m.group(0) not in declared:
            raise TemplateError(base + m.start(), f'undefined variable "{m.group(0)}"')


def check_template(text: str, functions: frozenset[str] = FUNCTIONS, variables: frozenset[str] | None = None) -> None:
    """Raise TemplateError when Go's text/template would fail to parse text.

    functions: those the reader defines (Alertmanager's by default, or PROMETHEUS_FUNCTIONS);
    variables: those it declares, when undeclared ones should be errors (None: not checked).
    """
    # Generated annotations differ from service to service only in their plain text; the actions parse
    # alike. A clean result is remembered by the part that can matter; a failure is found again on the
    # whole text, so its offset is its own.
    if not _parses(_actions_part(text), functions, variables):
        _check_template(text, functions, variables)


def _actions_part(text: str) -> str:
    """text from its first {{, without the plain text after its last }} when that text cannot open or
    continue anything (no brace, no quote): what lies outside the actions is never parsed."""
    start = text.find("{{")
    if start < 0:
        return ""
    end = text.rfind("}}")
    tail = text[end + 2 :] if end >= start else ""
    if not any(ch in tail for ch in "{\"'`"):
        return text[start : len(text) - len(tail)]
    return text[start:]


@functools.lru_cache(maxsize=4096)
def _parses(text: str, functions: frozenset[str], variables: frozenset[str] | None) -> bool:
    try:
        _check_template(text, functions, variables)
    except TemplateError:
        return False
    return True


def _check_template(text: str, functions: frozenset[str], variables: frozenset[str] | None) -> None:
    declared = set(variables) if variables is not None else None
    stack: list[tuple[int, str]] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            break
        inner_start = start + 2
        if text.startswith("-", inner_start) and text[inner_start + 1 : inner_start + 2].isspace():
            inner_start += 1
        if text.startswith("/*", inner_start):
            close = text.find("*/", inner_start)
            end = text.find("}}", close + 2) if close >= 0 else -1
            if close < 0 or end < 0:
                raise TemplateError(start, "unclosed comment")
            pos = end + 2
            continue
        end = _action_end(text, inner_start)
        if end < 0:
            raise TemplateError(start, "unclosed action: '{{' without '}}'")
        inner_end = end - 1 if text[end - 1 : end] == "-" and text[end - 2 : end - 1].isspace() else end
        action = text[inner_start:inner_end]
        if not action.strip():
            raise TemplateError(start, "missing value for command")
        firsts = _commands(action, inner_start)
        if declared is not None:
            _check_variables(action, inner_start, declared)
        keyword = firsts[0][1] if firsts else ""
        if keyword in _OPENERS:
            stack.append((start, keyword))
        elif keyword == "end":
            if not stack:
                raise TemplateError(start, "unexpected {{end}}")
            stack.pop()
        elif keyword == "else" and (not stack or stack[-1][1] not in ("if", "range", "with")):
            raise TemplateError(start, "unexpected {{else}}")
        for offset, word in firsts:
            if word in _WORDS or not _IDENT.match(word):
                continue
            if word not in functions:
                raise TemplateError(offset, f'function "{word}" not defined')
        pos = end + 2
    if stack:
        start, keyword = stack[-1]
        raise TemplateError(start, f"{{{{{keyword}}}}} has no matching {{{{end}}}}")


def _action_end(text: str, pos: int) -> int:
    """Index of the '}}' closing an action that starts at pos, skipping quoted strings."""
    while pos < len(text):
        if text.startswith("}}", pos):
            return pos
        if text[pos] in "\"`'":
            m = _TOKEN.match(text, pos)
            token = m.group(0) if m else text[pos]
            if len(token) < 2 or token[-1] != token[0]:
                return -1
            pos += len(token)
            continue
        pos += 1
    return -1


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of an offset in text."""
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1
