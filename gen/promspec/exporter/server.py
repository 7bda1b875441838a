"""The HTTP(S) server: /metrics, /healthz, /health, with basic auth and TLS from the web config."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import socket
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from typing import Any

from . import __version__
from .registry import OPENMETRICS, TEXT, Registry
from .webconfig import WebConfig

log = logging.getLogger("promspec.exporter")

_CONTENT_TYPES = {
    TEXT: "text/plain; version=0.0.4; charset=utf-8",
    OPENMETRICS: "application/openmetrics-text; version=1.0.0; charset=utf-8",
}
_HANDSHAKE_TIMEOUT_S = 10.0
# At the connection cap, a connection that has waited this long for a request (a slow or idle client;
# Prometheus sends its headers at once) is closed to make room for the new one.
_EVICT_AFTER_S = 1.0
_EVICT_WAIT_S = 0.2  # for the evicted connection's thread to give its slot back
_MAX_HEAD = 65536  # request line and headers together (http.server allows 64 KiB per line)
_MAX_HEADERS = 100  # as http.server
_SERVER = f"promspec-exporter/{__version__}"
_REASONS = {status.value: status.phrase for status in HTTPStatus}
_CLOSE = {"Connection": "close"}
_GZIP = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 24\r\nConnection: close\r\n\r\ntoo many connections now\n"
)


@dataclass(frozen=True, kw_only=True)
class ServerLimits:
    """What one client may hold: connections, requests in flight, and how long it may dawdle."""

    max_connections: int = 128
    max_requests: int = 64  # above 50 concurrent scrapers (exporter-toolkit defaults to 40); 0: no limit
    read_header_timeout: float = 10.0  # from a request's first byte (or the connect) to its last header
    idle_timeout: float = 30.0  # a kept-alive connection waiting for its next request
    write_timeout: float = 30.0  # for a whole response to leave
    backlog: int = 1024  # the kernel caps it at net.core.somaxconn


class _Gone(Exception):
    """The client can no longer be written to: the connection ends."""


class ListenAddressError(ValueError):
    """A --web.listen-address that is not host:port."""


def parse_listen_address(value: str) -> tuple[str, int]:
    """Split 'host:port', '[v6]:port' or ':port' (all interfaces) into (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ListenAddressError(f"--web.listen-address {value!r}: expected host:port, [ipv6]:port or :port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ListenAddressError(f"--web.listen-address {value!r}: write IPv6 addresses as [addr]:port")
    return host, int(port)


def _qualities(header: str) -> dict[str, float]:
    """{token (lower case): highest q} of an Accept or Accept-Encoding header; a malformed q counts as 0."""
    out: dict[str, float] = {}
    for part in header.split(","):
        token, *params = (piece.strip() for piece in part.split(";"))
        if not token:
            continue
        quality = 1.0
        for param in params:
            name, _, raw = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(raw.strip()), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        token = token.lower()
        out[token] = max(out.get(token, 0.0), quality)
    return out


# Scrapers send the same Accept and Accept-Encoding on every scrape: each header's answer is kept
# (a pure function of the text; bounded, so headers that vary cost only their parsing).
@functools.lru_cache(maxsize=64)
def choose_format(accept: str | None) -> str:
    """OpenMetrics when the client asks for it (Prometheus does) at least as much as the text format."""
    if not accept:
        return TEXT
    qualities = _qualities(accept)
    openmetrics = qualities.get("application/openmetrics-text", 0.0)
    text = max(qualities.get("text/plain", 0.0), qualities.get("text/*", 0.0), qualities.get("*/*", 0.0))
    return OPENMETRICS if openmetrics > 0 and openmetrics >= text else TEXT


@functools.lru_cache(maxsize=64)
def accepts_gzip(accept_encoding: str | None) -> bool:
    """True when Accept-Encoding allows gzip with a non-zero q (by name, or by '*' when gzip is not named)."""
    if not accept_encoding:
        return False
    qualities = _qualities(accept_encoding)
    return bool(qualities.get("gzip", qualities.get("*", 0.0)) > 0)


class _Slots:
    """A cap taken without waiting, or refused: a lock and a count (a semaphore's Condition costs
    several times more, on every request)."""

    __slots__ = ("_free", "_lock")

    def __init__(self, size: int):
        self._free = size
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Take a slot if one is free; False when all are taken."""
        with self._lock:
            if self._free <= 0:
                return False
            self._free -= 1
            return True

    def give(self) -> None:
        """Give back a slot taken."""
        with self._lock:
            self._free += 1


def _set_timeout(connection: socket.socket, seconds: float) -> None:
    # settimeout() is a system call each time (the descriptor's blocking flag is set again); a
    # kept-alive connection alternates the idle and write timeouts, equal by default.
    if connection.gettimeout() != seconds:
        connection.settimeout(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], handler: type[socketserver.BaseRequestHandler], exporter: ExporterServer
    ):
        self.address_family = socket.AF_INET6 if ":" in address[0] or address[0] == "" else socket.AF_INET
        self.exporter = exporter
        limits = exporter.limits
        self.request_queue_size = limits.backlog
        self.connections = threading.BoundedSemaphore(limits.max_connections) if limits.max_connections else None
        self.requests = _Slots(limits.max_requests) if limits.max_requests else None
        self.readers: set[_RequestReader | _Handshake] = set()
        self.readers_lock = threading.Lock()
        # The web config's extra headers, written once: the same on every answer.
        self.configured_headers = "".join(f"{name}: {value}\r\n" for name, value in exporter.web_config.headers.items())
        super().__init__(address, handler)

    def _make_room(self) -> bool:
        """At the cap: close the connection waiting longest for a request, if it has waited long enough."""
        now = time.monotonic()
        with self.readers_lock:
            waiting = [
                (r.waiting_since, r)
                for r in self.readers
                if r.waiting_since is not None and now - r.waiting_since > _EVICT_AFTER_S
            ]
        if not waiting or self.connections is None:
            return False
        _, oldest = min(waiting, key=lambda pair: pair[0])
        with self.readers_lock:
            if oldest in self.readers:  # not finished meanwhile
                oldest.evict()
        return self.connections.acquire(timeout=_EVICT_WAIT_S)

    def process_request(self, request: socket.socket, client_address: Any) -> None:  # type: ignore[override]
        # One thread per connection, so the connection cap is also the thread cap. The accept loop never
        # waits long: a full server makes room by closing a dawdling client, or refuses at once.
        if self.connections is not None and not self.connections.acquire(blocking=False) and not self._make_room():
            log.debug("refusing %s: %d connections open", client_address, self.exporter.limits.max_connections)
            try:
                request.setblocking(False)
                request.send(_REFUSED)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: give the slot back
            if self.connections is not None:
                self.connections.release()
            raise

    def process_request_thread(self, request: socket.socket, client_address: Any) -> None:  # type: ignore[override]
        try:
            super().process_request_thread(request, client_address)
        finally:
            if self.connections is not None:
                self.connections.release()

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            # ':port' means every interface, IPv4 included, as node_exporter does.
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    def finish_request(self, request: socket.socket, client_address: Any) -> None:  # type: ignore[override]
        tls = self.exporter.web_config.tls
        if tls is not None:
            # The handshake runs here, in the connection's own thread, so a slow client blocks nobody.
            # A handshake that dawdles holds a slot like a slow request does: it can be evicted as well.
            handshake = _Handshake(request)
            with self.readers_lock:
                self.readers.add(handshake)
            try:
                request.settimeout(_HANDSHAKE_TIMEOUT_S)
                request = tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError) as exc:
                log.debug("TLS handshake with %s failed: %s", client_address, exc)
                return
            finally:
                with self.readers_lock:
                    self.readers.discard(handshake)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handshake:
    """A connection still in its TLS handshake, for eviction when the server is full."""

    def __init__(self, connection: socket.socket):
        # wrap_socket() detaches the socket object from its descriptor: keep the descriptor itself.
        self._fd = connection.fileno()
        self.waiting_since: float | None = time.monotonic()

    def evict(self) -> None:
        """Shut the connection down under the handshake, which then fails and frees the slot.

        Called under the server's readers lock while this handshake is registered, so the
        descriptor is still this connection's (it is closed only after unregistering).
        """
        try:
            with socket.socket(fileno=os.dup(self._fd)) as duplicate:
                duplicate.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _RequestReader:
    """The request heads of one connection, each read whole within one deadline.

    A socket timeout alone restarts at every byte, so a client sending a byte every few seconds
    would hold its connection (and thread) for ever; this shrinks each read's timeout to what is
    left of the head's deadline, which starts at the connect (a fresh connection) or at the first
    byte of a kept-alive connection's next request.
    """

    def __init__(self, connection: socket.socket, limits: ServerLimits):
        self._connection, self._limits = connection, limits
        self._buffer = b""
        self._deadline: float | None = time.monotonic() + limits.read_header_timeout  # a fresh connection
        # Since when this connection has been waiting for (the rest of) a request; None while one is served.
        self.waiting_since: float | None = time.monotonic()

    def request_read(self) -> None:
        """The request's head is in: the connection is busy, not waiting."""
        self.waiting_since = None

    def next_request(self) -> None:
        """The previous request is answered: wait up to the idle timeout for the next one to start."""
        self._deadline = None
        self.waiting_since = time.monotonic()

    def evict(self) -> None:
        """Close the connection under its thread, which then ends and frees its slot."""
        with contextlib.suppress(OSError):  # already closed by its peer or its thread
            self._connection.shutdown(socket.SHUT_RDWR)

    def read_head(self) -> bytes | None:
        """The next request line and headers (without the blank line), or None when the client is done.

        Raises TimeoutError when the deadline passes first, HeadError when the head is too large.
        """
        buffer = self._buffer.lstrip(b"\r\n")  # blank lines before a request line are allowed (RFC 9112 2.2)
        while True:
            end = head_end(buffer)
            if end is not None and end[0] <= _MAX_HEAD:
                head, self._buffer = buffer[: end[0]], buffer[end[1] :]
                return head
            if end is not None or len(buffer) > _MAX_HEAD:
                line_end = buffer.find(b"\n")
                if line_end < 0 or line_end > _MAX_HEAD:
                    raise HeadError(414, f"request line longer than {_MAX_HEAD} bytes")
                raise HeadError(431, f"request headers longer than {_MAX_HEAD} bytes")
            if self._deadline is None:
                _set_timeout(self._connection, self._limits.idle_timeout)
            else:
                left = self._deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("request headers not received in time")
                self._connection.settimeout(left)
            chunk = self._connection.recv(65536)
            if not chunk:
                return None  # closed by the client (mid-request or between requests: nothing to answer)
            if self._deadline is None:
                self._deadline = time.monotonic() + self._limits.read_header_timeout
            buffer = (buffer + chunk).lstrip(b"\r\n") if not buffer else buffer + chunk


def head_end(buffer: bytes) -> tuple[int, int] | None:
    """(end of the head, start of what follows) at the first empty line, CRLF or bare LF, or None."""
    crlf = buffer.find(b"\r\n\r\n")
    lf = buffer.find(b"\n\n")
    if lf >= 0 and (crlf < 0 or lf < crlf):
        return lf, lf + 2
    if crlf >= 0:
        return crlf, crlf + 4
    mixed = buffer.find(b"\n\r\n")  # a bare-LF line then CRLF: clients should not, some do
    return (mixed, mixed + 3) if mixed >= 0 else None


class HeadError(Exception):
    """A request head that cannot be served: the status to answer and why."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, kw_only=True)
class _Request:
    """One parsed request head: what the routes need from it."""

    method: str
    path: str
    version: str
    headers: dict[str, str]  # lower-case name -> value (repeated names joined by ', ', as RFC 9110 5.3 allows)
    body_announced: bool  # a Content-Length other than 0, or any Transfer-Encoding

    def keep_alive(self) -> bool:
        """Whether the client expects the connection to stay open after the answer."""
        tokens = {t.strip().lower() for t in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.1":
            return "close" not in tokens
        return "keep-alive" in tokens


def parse_head(head: bytes) -> _Request:
    """The request line and headers of one request; HeadError for anything HTTP/1.x does not allow."""
    lines = head.decode("latin-1").split("\n")
    parts = lines[0].rstrip("\r").split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise HeadError(400, f"bad request line {lines[0][:80]!r}")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        if version.startswith("HTTP/") and version[5:6].isdigit() and version[5:6] != "1":
            raise HeadError(505, f"HTTP version {version[:20]!r} not supported")
        raise HeadError(400, f"bad request version {version[:20]!r}")
    if len(lines) > _MAX_HEADERS + 1:
        raise HeadError(431, f"more than {_MAX_HEADERS} headers")
    headers: dict[str, str] = {}
    body_announced = False
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        # No whitespace before the colon, and no obsolete line folding (RFC 9112 5.1, 5.2).
        if not colon or not name or name != name.strip() or " " in name or "\t" in name:
            raise HeadError(400, f"bad header line {line[:80]!r}")
        name = name.lower()
        value = value.strip(" \t\r")
        if name == "transfer-encoding" or (name == "content-length" and value != "0"):
            body_announced = True
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    path = target.split("?", 1)[0]
    if path.startswith("//"):
        path = "/" + path.lstrip("/")  # as http.server does: never a scheme-relative URL
    return _Request(method=method, path=path, version=version, headers=headers, body_announced=body_announced)


_date_cache: list[int | str] = [0, ""]


def _http_date() -> str:
    """The Date header's value, formatted once per second."""
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[:] = [now, formatdate(now, usegmt=True)]
    return str(_date_cache[1])


class _Handler(socketserver.BaseRequestHandler):
    """HTTP/1.1 for scrapes: GET and HEAD, keep-alive, one write per answer.

    Not http.server's handler: its email-based header parsing and per-line reads cost more than a
    small host's whole collection (measured in docs/BENCHMARKS.md). The head is read in one or a
    few recv() calls under the read-header deadline and split by hand.
    """

    server: _Server  # always: ExporterServer creates the only _Server, with this handler
    _reader: _RequestReader

    def setup(self) -> None:
        connection: socket.socket = self.request
        # One write per answer; without this, delayed ACKs add 40 ms to an answer of several segments.
        with contextlib.suppress(OSError):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self._reader = _RequestReader(connection, self.server.exporter.limits)
        with self.server.readers_lock:
            self.server.readers.add(self._reader)

    def finish(self) -> None:
        with self.server.readers_lock:
            self.server.readers.discard(self._reader)

    def handle(self) -> None:
        with contextlib.suppress(_Gone):
            self._serve_requests()

    def _serve_requests(self) -> None:
        while True:
            try:
                head = self._reader.read_head()
            except HeadError as exc:
                self._send(exc.status, f"{exc}\n".encode(), "text/plain; charset=utf-8", True, _CLOSE)
                return
            except (TimeoutError, OSError) as exc:
                log.debug("connection from %s: %s", self.client_address, exc)
                return
            if head is None:
                return
            self._reader.request_read()
            try:
                request = parse_head(head)
            except HeadError as exc:
                self._send(exc.status, f"{exc}\n".encode(), "text/plain; charset=utf-8", True, _CLOSE)
                return
            if not self._answer(request):
                return
            self._reader.next_request()

    def _answer(self, request: _Request) -> bool:
        """Answer one request; False when the connection is to be closed after it."""
        send_body = request.method != "HEAD"
        if request.method not in ("GET", "HEAD"):
            self._send(501, b"only GET and HEAD are served\n", "text/plain; charset=utf-8", True, _CLOSE)
            return False
        if request.body_announced:
            # Reading on after the headers would parse the body as the next request: refuse it instead.
            self._send(400, b"a GET or HEAD request has no body\n", "text/plain; charset=utf-8", send_body, _CLOSE)
            return False
        keep_alive = request.keep_alive()
        close = None if keep_alive else _CLOSE
        requests = self.server.requests
        if requests is not None and not requests.take():
            limit = self.server.exporter.limits.max_requests
            self._send(
                503,
                f"limit of concurrent requests reached ({limit}), try again later\n".encode(),
                "text/plain; charset=utf-8",
                send_body,
                close,
            )
            return keep_alive
        try:
            status = self._route(request, send_body, close)
        finally:
            if requests is not None:
                requests.give()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s %s %d", self.client_address[0], request.method, request.path, request.version, status)
        return keep_alive

    def _route(self, request: _Request, send_body: bool, close: dict[str, str] | None) -> int:
        exporter: ExporterServer = self.server.exporter
        if not exporter.web_config.authorized(request.headers.get("authorization")):
            extra = {"WWW-Authenticate": 'Basic realm="promspec-exporter"', **(close or {})}
            return self._send(401, b"Unauthorized\n", "text/plain; charset=utf-8", send_body, extra)
        path = request.path
        if path == exporter.telemetry_path:
            return self._metrics(exporter, request, send_body, close)
        if path == "/healthz":
            stuck = exporter.registry.stuck()
            if stuck:
                lines = "".join(
                    f"collector {name} stuck for {seconds:.0f}s (deadline {exporter.registry.timeout:g}s)\n"
                    for name, seconds in sorted(stuck.items())
                )
                return self._send(503, lines.encode(), "text/plain; charset=utf-8", send_body, close)
            return self._send(200, b"ok\n", "text/plain; charset=utf-8", send_body, close)
        if path == "/health":
            body = json.dumps(exporter.health(), indent=2, sort_keys=True).encode() + b"\n"
            return self._send(200, body, "application/json", send_body, close)
        if path == "/":
            page = (
                f"<html><head><title>promspec-exporter</title></head><body><h1>promspec-exporter</h1>"
                f'<p><a href="{exporter.telemetry_path}">Metrics</a> &middot; <a href="/health">Health</a>'
                f"</p></body></html>\n"
            )
            return self._send(200, page.encode(), "text/html; charset=utf-8", send_body, close)
        return self._send(404, b"Not Found\n", "text/plain; charset=utf-8", send_body, close)

    def _metrics(
        self, exporter: ExporterServer, request: _Request, send_body: bool, close: dict[str, str] | None
    ) -> int:
        fmt = choose_format(request.headers.get("accept"))
        compressed = accepts_gzip(request.headers.get("accept-encoding"))
        try:
            body = exporter.registry.gather().body(fmt, compressed)
        except Exception:  # the registry isolates collectors; this is a last line of defence
            log.exception("rendering metrics failed")
            return self._send(500, b"rendering metrics failed\n", "text/plain; charset=utf-8", send_body, close)
        extra = _GZIP if compressed else {}
        if close:
            extra = {**extra, **close}
        return self._send(200, body, _CONTENT_TYPES[fmt], send_body, extra)

    def _send(
        self, code: int, body: bytes, content_type: str, send_body: bool, extra: dict[str, str] | None = None
    ) -> int:
        lines = [
            f"HTTP/1.1 {code} {_REASONS.get(code, 'Unknown')}\r\nServer: {_SERVER}\r\nDate: {_http_date()}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{self.server.configured_headers}"
        ]
        for name, value in (extra or {}).items():
            lines.append(f"{name}: {value}\r\n")
        lines.append("\r\n")
        out = "".join(lines).encode("latin-1")
        connection: socket.socket = self.request
        _set_timeout(connection, self.server.exporter.limits.write_timeout)
        try:
            connection.sendall(out + body if send_body else out)
        except OSError as exc:  # the client went away, or read too slowly: nothing more to say to it
            log.debug("answering %s: %s", self.client_address, exc)
            raise _Gone from None
        return code


class ExporterServer:
    """The exporter's HTTP endpoint around a registry; start() serves from a background thread."""

    def __init__(
        self,
        registry: Registry,
        listen: tuple[str, int],
        web_config: WebConfig | None = None,
        telemetry_path: str = "/metrics",
        limits: ServerLimits | None = None,
    ):
        self.registry = registry
        self.web_config = web_config or WebConfig()
        self.telemetry_path = telemetry_path
        self.limits = limits or ServerLimits()
        self._httpd = _Server(listen, _Handler, self)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0)."""
        return self._httpd.server_address[1]

    def health(self) -> dict[str, Any]:
        """Per-collector outcome of the last scrape, for /health."""
        return {"collectors": {name: h.as_json() for name, h in self.registry.health.items()}, "version": __version__}

    def serve_forever(self) -> None:
        """Serve until shutdown() is called from another thread."""
        self._httpd.serve_forever(poll_interval=0.5)

    def start(self) -> ExporterServer:
        """Serve from a daemon thread and return at once."""
        self._thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serving and close the listening socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
