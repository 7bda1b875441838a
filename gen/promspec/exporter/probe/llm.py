"""One synthetic streaming completion, timed as a client sees it (stdlib HTTP only)."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .config import Target

OK, HTTP_ERROR, TIMEOUT, MALFORMED, EMPTY, CONNECTION_ERROR = (
    "ok",
    "http_error",
    "timeout",
    "malformed_stream",
    "empty_completion",
    "connection_error",
)
OUTCOMES = (OK, HTTP_ERROR, TIMEOUT, MALFORMED, EMPTY, CONNECTION_ERROR)
MAX_LINE = 1 << 20  # an SSE line longer than this is not a token stream


@dataclass(kw_only=True)
class Result:
    """What one probe saw; times in seconds from the start of the request (connect included)."""

    outcome: str
    ttft: float | None = None
    gaps: list[float] = field(default_factory=list)  # inter-token latencies
    e2e: float | None = None
    tokens: int = 0
    detail: str = ""


class _Malformed(Exception):
    pass


def request_body(target: Target) -> bytes:
    """A small fixed prompt, streamed, bounded, deterministic."""
    body: dict[str, Any] = {"model": target.model, "max_tokens": target.max_tokens, "stream": True, "temperature": 0}
    if target.api == "chat":
        body["messages"] = [{"role": "user", "content": target.prompt}]
    else:
        body["prompt"] = target.prompt
    return json.dumps(body).encode()


def _content(event: object) -> tuple[str, int | None]:
    """The text of one streamed chunk, and the completion tokens when the chunk reports usage."""
    if not isinstance(event, dict):
        raise _Malformed("event is not a JSON object")
    usage = event.get("usage")
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    choices = event.get("choices")
    if not isinstance(choices, list):
        raise _Malformed("event has no choices list")
    text = ""
    for choice in choices:
        if not isinstance(choice, dict):
            raise _Malformed("a choice is not an object")
        delta = choice.get("delta")
        piece = delta.get("content") if isinstance(delta, dict) else choice.get("text")
        if isinstance(piece, str):
            text += piece
    return text, tokens if isinstance(tokens, int) else None


def run(target: Target, clock: Callable[[], float] = time.monotonic) -> Result:
    """POST a streaming completion and time its first token, the gaps between tokens and the end."""
    parts = urlsplit(target.url)
    start = clock()
    deadline = start + target.timeout
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=target.timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=target.timeout)
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    try:
        token = target.token()
    except OSError as exc:
        return Result(outcome=CONNECTION_ERROR, detail=f"cannot read token_file: {exc.strerror or exc}")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    result = Result(outcome=OK)
    last = None
    try:
        conn.request(
            "POST",
            (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            body=request_body(target),
            headers=headers,
        )
        resp = conn.getresponse()
        if resp.status != 200:
            resp.read(65536)
            return Result(outcome=HTTP_ERROR, detail=f"HTTP {resp.status}")
        done = False
        while not done:
            remaining = deadline - clock()
            if remaining <= 0:
                raise TimeoutError("probe deadline")
            if conn.sock is not None:
                conn.sock.settimeout(remaining)
            line = resp.readline(MAX_LINE + 1)
            if not line:
                break  # the server closed before [DONE]
            if len(line) > MAX_LINE:
                raise _Malformed("an SSE line over 1 MiB")
            text = line.decode("utf-8", "replace").strip()
            if not text or text.startswith(":"):
                continue  # event separator or SSE comment (keep-alive)
            if not text.startswith("data:"):
                if text.split(":", 1)[0] in ("event", "id", "retry"):
                    continue
                raise _Malformed(f"not an SSE line: {text[:60]!r}")
            payload = text[5:].strip()
            if payload == "[DONE]":
                done = True
                break
            try:
                event = json.loads(payload)
            except ValueError:
                raise _Malformed(f"data is not JSON: {payload[:60]!r}") from None
            piece, usage_tokens = _content(event)
            now = clock()
            if usage_tokens is not None:
                result.tokens = usage_tokens
            if piece:
                if last is None:
                    result.ttft = now - start
                else:
                    result.gaps.append(now - last)
                last = now
                if usage_tokens is None:
                    result.tokens += 1
        if not done:
            result.outcome, result.detail = MALFORMED, "stream ended before data: [DONE]"
            return result
        result.e2e = clock() - start
        if last is None:
            result.outcome, result.detail = EMPTY, "no content in the stream"
        return result
    except TimeoutError:
        result.outcome, result.detail = TIMEOUT, f"no answer within {target.timeout:g}s"
        return result
    except _Malformed as exc:
        result.outcome, result.detail = MALFORMED, str(exc)
        return result
    except http.client.IncompleteRead:
        result.outcome, result.detail = MALFORMED, "the connection closed mid-chunk"
        return result
    except (http.client.HTTPException, OSError) as exc:
        # Before a response: connection refused, reset, TLS failure; after: a reset mid-stream.
        outcome = MALFORMED if result.ttft is not None else CONNECTION_ERROR
        result.outcome, result.detail = outcome, f"{type(exc).__name__}: {exc}"
        return result
    finally:
        conn.close()
