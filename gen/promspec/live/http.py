"""A small JSON-over-HTTP client for the Prometheus and Alertmanager APIs, with clear errors and retries."""

from __future__ import annotations

import contextlib
import contextvars
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

RETRY_STATUS = (429, 502, 503, 504)
# A JSON answer larger than this is not an API answer we can use (an endless or runaway body).
MAX_BODY = 512 << 20
_CHUNK = 1 << 16


class APIError(Exception):
    """A request that failed; the message is a sentence for the user. transient: worth retrying."""

    def __init__(self, message: str, transient: bool = False, status: int | None = None):
        super().__init__(message)
        self.transient = transient
        self.status = status


def base_url(url: str) -> str:
    """The server URL without a trailing slash; APIError when it is not http(s)."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise APIError(f"{url!r} is not an http(s) URL such as http://127.0.0.1:9090")
    return url.rstrip("/")


def _detail(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:300]
    if isinstance(data, dict):
        return str(data.get("error") or data.get("message") or data)[:300]
    return str(data)[:300]


@dataclass(frozen=True, kw_only=True)
class Deadline:
    """When a whole command must have its answers (time.monotonic()), and the limit the user gave."""

    at: float
    seconds: float

    def remaining(self) -> float:
        return self.at - time.monotonic()


_deadline: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("promspec_http_deadline", default=None)


@contextlib.contextmanager
def overall_deadline(seconds: float) -> Iterator[None]:
    """Every request() inside the block shares one deadline: a slow or stalled server (one byte a second
    keeps every socket timeout quiet) cannot keep a command running past it."""
    if not seconds > 0:
        raise APIError(f"--timeout must be more than 0 seconds, not {seconds:g}")
    token = _deadline.set(Deadline(at=time.monotonic() + seconds, seconds=seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def _late(server: str, deadline: Deadline) -> APIError:
    return APIError(
        f"{server} gave no complete answer within the --timeout of {deadline.seconds:g}s "
        "(a slow or stalled server); raise --timeout if it is just slow"
    )


def _fetch(req: urllib.request.Request, timeout: float, stop: threading.Event, box: dict[str, Any]) -> None:
    """urlopen and read the body in small reads, so a stop or an oversized body ends it (runs in a thread)."""
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            parts: list[bytes] = []
            size = 0
            while not stop.is_set():
                chunk: bytes = resp.read1(_CHUNK)
                if not chunk:
                    box["raw"] = b"".join(parts)
                    return
                size += len(chunk)
                if size > MAX_BODY:
                    box["too_big"] = True
                    return
                parts.append(chunk)
    except BaseException as exc:
        box["error"] = exc


def request(
    method: str, url: str, body: object = None, timeout: float = 30.0, form: Mapping[str, str] | None = None
) -> Any:
    """Send one request (a JSON body, or form fields) and decode its JSON answer; APIError on any failure.

    timeout bounds each network wait; an overall_deadline() around the caller bounds the whole
    exchange, headers and body included.
    """
    data: bytes | None
    if form is not None:  # Prometheus takes long queries as a form, without URL length limits
        data = urllib.parse.urlencode(form).encode()
        kind = "application/x-www-form-urlencoded"
    else:
        data = json.dumps(body).encode() if body is not None else None
        kind = "application/json"
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": kind, "Accept": "application/json"}
    )
    server = urllib.parse.urlunparse(urllib.parse.urlparse(url)._replace(path="", query="", fragment=""))
    deadline = _deadline.get()
    wait = None
    if deadline is not None:
        wait = deadline.remaining()
        if wait <= 0:
            raise _late(server, deadline)
        timeout = min(timeout, wait)
    stop = threading.Event()
    box: dict[str, Any] = {}  # what the worker thread got: raw, too_big or error
    # A daemon thread: a server that drips bytes can hold a read forever; the command must not wait on it.
    worker = threading.Thread(target=_fetch, args=(req, timeout, stop, box), daemon=True)
    worker.start()
    worker.join(wait)
    if worker.is_alive():
        stop.set()
        raise _late(server, deadline) if deadline else APIError(f"no answer from {server}")
    exc = box.get("error")
    if isinstance(exc, urllib.error.HTTPError):
        detail = _detail(exc.read(4096) if exc.fp else b"")
        raise APIError(
            f"{server} answered HTTP {exc.code} ({exc.reason}): {detail}",
            transient=exc.code in RETRY_STATUS or exc.code >= 500,
            status=exc.code,
        ) from None
    if isinstance(exc, (urllib.error.URLError, OSError)):
        reason = getattr(exc, "reason", exc)
        raise APIError(f"cannot reach {server}: {reason}", transient=True) from None
    if isinstance(exc, Exception):  # http.client's IncompleteRead, BadStatusLine...: not an HTTP answer
        raise APIError(
            f"{server} did not answer in HTTP: {type(exc).__name__}: {str(exc)[:200]}", transient=True
        ) from None
    if exc is not None:
        raise exc
    if box.get("too_big"):
        raise APIError(f"{server} sent an answer over {MAX_BODY >> 20} MiB: not an API answer (an endless body?)")
    raw = box["raw"]
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise APIError(f"{server} answered with something that is not JSON: {raw[:100]!r}") from None


def query_result(answer: Any, server: str, result_type: str) -> list[dict[str, Any]]:
    """data.result of a Prometheus query answer, checked for the shape promspec reads; APIError otherwise.

    result_type: "vector" (instant query: each item {metric, value: [t, "v"]}) or "matrix" (range query:
    {metric, values: [[t, "v"], ...]}).
    """
    expected = (
        f"a Prometheus /api/v1/query{'_range' if result_type == 'matrix' else ''} answer: "
        f'{{"status": "success", "data": {{"resultType": "{result_type}", "result": [...]}}}}'
    )
    data = answer.get("data") if isinstance(answer, dict) else None
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(result, list) or data.get("resultType", result_type) != result_type:
        raise APIError(f"{server} answered JSON that is not {expected}")
    key = "value" if result_type == "vector" else "values"

    def pair(p: Any) -> bool:
        """[unix time, "sample value"], the value a number as Prometheus writes it (NaN, +Inf included)."""
        if not (isinstance(p, list) and len(p) == 2 and isinstance(p[0], (int, float)) and isinstance(p[1], str)):
            return False
        try:
            float(p[1])
        except ValueError:
            return False
        return True

    for item in result:
        ok = (
            isinstance(item, dict)
            and isinstance(item.get("metric"), dict)
            and all(isinstance(v, str) for v in item["metric"].values())
        )
        points = item.get(key) if ok else None
        ok = ok and (pair(points) if key == "value" else isinstance(points, list) and all(map(pair, points)))
        if not ok:
            raise APIError(f"{server} answered JSON that is not {expected}: a result is {json.dumps(item)[:120]}")
    return result


def request_with_retries(
    method: str,
    url: str,
    form: Mapping[str, str] | None = None,
    attempts: int = 4,
    delay: float = 0.5,
    on_retry: Callable[[str], None] = lambda message: None,
    timeout: float = 30.0,
) -> Any:
    """request(), retrying transient failures (connection errors, 429, 5xx) with exponential backoff."""
    for attempt in range(1, attempts + 1):
        try:
            return request(method, url, timeout=timeout, form=form)
        except APIError as exc:
            if not exc.transient or attempt == attempts:
                raise
            deadline = _deadline.get()
            if deadline is not None and deadline.remaining() <= delay:
                raise
            on_retry(f"{exc}; retrying in {delay:g}s ({attempt}/{attempts - 1})")
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")
