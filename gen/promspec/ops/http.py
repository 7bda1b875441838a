"""A small JSON-over-HTTP client for the Prometheus and Alertmanager APIs, with clear errors and retries."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

RETRY_STATUS = (429, 502, 503, 504)


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


def request(method: str, url: str, body=None, timeout: float = 30.0, form: dict | None = None):
    """Send one request (a JSON body, or form fields) and decode its JSON answer; APIError on any failure."""
    if form is not None:  # Prometheus takes long queries as a form, without URL length limits
        data = urllib.parse.urlencode(form).encode()
        kind = "application/x-www-form-urlencoded"
    else:
        data = json.dumps(body).encode() if body is not None else None
        kind = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": kind,
                                                                         "Accept": "application/json"})
    server = urllib.parse.urlunparse(urllib.parse.urlparse(url)._replace(path="", query="", fragment=""))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        detail = _detail(exc.read())
        raise APIError(f"{server} answered HTTP {exc.code} ({exc.reason}): {detail}",
                       transient=exc.code in RETRY_STATUS or exc.code >= 500, status=exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise APIError(f"cannot reach {server}: {reason}", transient=True) from None
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise APIError(f"{server} answered with something that is not JSON: {raw[:100]!r}") from None


def request_with_retries(method: str, url: str, form: dict | None = None, attempts: int = 4, delay: float = 0.5,
                         on_retry=lambda message: None, timeout: float = 30.0):
    """request(), retrying transient failures (connection errors, 429, 5xx) with exponential backoff."""
    for attempt in range(1, attempts + 1):
        try:
            return request(method, url, timeout=timeout, form=form)
        except APIError as exc:
            if not exc.transient or attempt == attempts:
                raise
            on_retry(f"{exc}; retrying in {delay:g}s ({attempt}/{attempts - 1})")
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")
