"""The HTTP(S) server: /metrics, /healthz, /health, with basic auth and TLS from the web config."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import cast

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


class ListenAddressError(ValueError):
    """A --web.listen-address that is not host:port."""


def parse_listen_address(value: str) -> tuple:
    """Split 'host:port', '[v6]:port' or ':port' (all interfaces) into (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ListenAddressError(f"--web.listen-address {value!r}: expected host:port, [ipv6]:port or :port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ListenAddressError(f"--web.listen-address {value!r}: write IPv6 addresses as [addr]:port")
    return host, int(port)


def _qualities(header: str) -> dict:
    """{token (lower case): highest q} of an Accept or Accept-Encoding header; a malformed q counts as 0."""
    out: dict = {}
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


def choose_format(accept: str | None) -> str:
    """OpenMetrics when the client asks for it (Prometheus does) at least as much as the text format."""
    if not accept:
        return TEXT
    qualities = _qualities(accept)
    openmetrics = qualities.get("application/openmetrics-text", 0.0)
    text = max(qualities.get("text/plain", 0.0), qualities.get("text/*", 0.0), qualities.get("*/*", 0.0))
    return OPENMETRICS if openmetrics > 0 and openmetrics >= text else TEXT


def accepts_gzip(accept_encoding: str | None) -> bool:
    """True when Accept-Encoding allows gzip with a non-zero q (by name, or by '*' when gzip is not named)."""
    if not accept_encoding:
        return False
    qualities = _qualities(accept_encoding)
    return qualities.get("gzip", qualities.get("*", 0.0)) > 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, handler, exporter: ExporterServer):
        self.address_family = socket.AF_INET6 if ":" in address[0] or address[0] == "" else socket.AF_INET
        self.exporter = exporter
        limits = exporter.limits
        self.request_queue_size = limits.backlog
        self.connections = threading.BoundedSemaphore(limits.max_connections) if limits.max_connections else None
        self.requests = threading.BoundedSemaphore(limits.max_requests) if limits.max_requests else None
        self.readers: set = set()
        self.readers_lock = threading.Lock()
        super().__init__(address, handler)

    def _make_room(self) -> bool:
        """At the cap: close the connection waiting longest for a request, if it has waited long enough."""
        now = time.monotonic()
        with self.readers_lock:
            waiting = [
                r for r in self.readers if r.waiting_since is not None and now - r.waiting_since > _EVICT_AFTER_S
            ]
        if not waiting or self.connections is None:
            return False
        oldest = min(waiting, key=lambda r: r.waiting_since)
        with self.readers_lock:
            if oldest in self.readers:  # not finished meanwhile
                oldest.evict()
        return self.connections.acquire(timeout=_EVICT_WAIT_S)

    def process_request(self, request, client_address):
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

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            if self.connections is not None:
                self.connections.release()

    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            # ':port' means every interface, IPv4 included, as node_exporter does.
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    def finish_request(self, request, client_address):
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

    def handle_error(self, request, client_address):
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


class _DeadlineReader:
    """The request reader of one connection: a whole request line and headers within one deadline.

    A socket timeout alone restarts at every byte, so a client sending a byte every few seconds
    would hold its connection (and thread) for ever; this reads the header lines piecewise and
    shrinks the timeout to what is left of the deadline.
    """

    def __init__(self, buffered, connection: socket.socket, limits: ServerLimits):
        self._buffered, self._connection, self._limits = buffered, connection, limits
        self._deadline: float | None = time.monotonic() + limits.read_header_timeout  # a fresh connection
        # Since when this connection has been waiting for (the rest of) a request; None while one is served.
        self.waiting_since: float | None = time.monotonic()

    def request_read(self) -> None:
        """The request's headers are in: the connection is busy, not waiting."""
        self.waiting_since = None

    def next_request(self) -> None:
        """The previous request is answered: wait up to the idle timeout for the next one to start."""
        self._deadline = None
        self.waiting_since = time.monotonic()

    def evict(self) -> None:
        """Close the connection under its thread, which then ends and frees its slot."""
        with contextlib.suppress(OSError):  # already closed by its peer or its thread
            self._connection.shutdown(socket.SHUT_RDWR)

    def readline(self, limit: int = -1) -> bytes:
        """One line of at most limit bytes, raising TimeoutError when the deadline passes first."""
        out = bytearray()
        while limit < 0 or len(out) < limit:
            if self._deadline is None:
                self._connection.settimeout(self._limits.idle_timeout)
            else:
                left = self._deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("request headers not received in time")
                self._connection.settimeout(left)
            available = self._buffered.peek(1)
            if not available:
                break
            if self._deadline is None:
                self._deadline = time.monotonic() + self._limits.read_header_timeout
            end = available.find(b"\n")
            take = len(available) if end < 0 else end + 1
            if limit >= 0:
                take = min(take, limit - len(out))
            out += self._buffered.read(take)
            if out.endswith(b"\n"):
                break
        return bytes(out)

    def __getattr__(self, name):
        return getattr(self._buffered, name)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"promspec-exporter/{__version__}"
    # Headers and body leave in two writes; without this, delayed ACKs add 40 ms to every scrape.
    disable_nagle_algorithm = True
    server: _Server  # always: ExporterServer creates the only _Server, with this handler
    _reader: _DeadlineReader

    def setup(self):
        super().setup()
        self._reader = _DeadlineReader(self.rfile, self.connection, self.server.exporter.limits)
        # The base class reads requests from rfile; the wrapper delegates the buffered reader's API to it.
        self.rfile = cast(BufferedIOBase, self._reader)
        with self.server.readers_lock:
            self.server.readers.add(self._reader)

    def finish(self):
        with self.server.readers_lock:
            self.server.readers.discard(self._reader)
        super().finish()

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        self._reader.request_read()
        return parsed

    def handle_one_request(self):
        super().handle_one_request()
        self._reader.next_request()

    def do_GET(self):
        self._respond(send_body=True)

    def do_HEAD(self):
        self._respond(send_body=False)

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)

    def _respond(self, send_body: bool) -> None:
        if self.headers.get("Transfer-Encoding") or self.headers.get("Content-Length", "0").strip() != "0":
            # Reading on after the headers would parse the body as the next request: refuse it instead.
            self.close_connection = True
            self._send(
                400,
                b"a GET or HEAD request has no body\n",
                "text/plain; charset=utf-8",
                send_body,
                {"Connection": "close"},
            )
            return
        requests = self.server.requests
        if requests is not None and not requests.acquire(blocking=False):
            limit = self.server.exporter.limits.max_requests
            self._send(
                503,
                f"limit of concurrent requests reached ({limit}), try again later\n".encode(),
                "text/plain; charset=utf-8",
                send_body,
            )
            return
        try:
            self._route(send_body)
        finally:
            if requests is not None:
                requests.release()

    def _route(self, send_body: bool) -> None:
        exporter: ExporterServer = self.server.exporter
        if not exporter.web_config.authorized(self.headers.get("Authorization")):
            self._send(
                401,
                b"Unauthorized\n",
                "text/plain; charset=utf-8",
                send_body,
                {"WWW-Authenticate": 'Basic realm="promspec-exporter"'},
            )
            return
        path = self.path.split("?", 1)[0]
        if path == exporter.telemetry_path:
            self._metrics(exporter, send_body)
        elif path == "/healthz":
            stuck = exporter.registry.stuck()
            if stuck:
                lines = "".join(
                    f"collector {name} stuck for {seconds:.0f}s (deadline {exporter.registry.timeout:g}s)\n"
                    for name, seconds in sorted(stuck.items())
                )
                self._send(503, lines.encode(), "text/plain; charset=utf-8", send_body)
            else:
                self._send(200, b"ok\n", "text/plain; charset=utf-8", send_body)
        elif path == "/health":
            body = json.dumps(exporter.health(), indent=2, sort_keys=True).encode() + b"\n"
            self._send(200, body, "application/json", send_body)
        elif path == "/":
            page = (
                f"<html><head><title>promspec-exporter</title></head><body><h1>promspec-exporter</h1>"
                f'<p><a href="{exporter.telemetry_path}">Metrics</a> &middot; <a href="/health">Health</a>'
                f"</p></body></html>\n"
            )
            self._send(200, page.encode(), "text/html; charset=utf-8", send_body)
        else:
            self._send(404, b"Not Found\n", "text/plain; charset=utf-8", send_body)

    def _metrics(self, exporter: ExporterServer, send_body: bool) -> None:
        fmt = choose_format(self.headers.get("Accept"))
        compressed = accepts_gzip(self.headers.get("Accept-Encoding"))
        try:
            body = exporter.registry.gather().body(fmt, compressed)
        except Exception:  # the registry isolates collectors; this is a last line of defence
            log.exception("rendering metrics failed")
            self._send(500, b"rendering metrics failed\n", "text/plain; charset=utf-8", send_body)
            return
        extra = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"} if compressed else {}
        self._send(200, body, _CONTENT_TYPES[fmt], send_body, extra)

    def _send(self, code: int, body: bytes, content_type: str, send_body: bool, extra: dict | None = None):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in self.server.exporter.web_config.headers.items():
            self.send_header(name, value)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.connection.settimeout(self.server.exporter.limits.write_timeout)
        self.end_headers()
        if send_body:
            self.wfile.write(body)


class ExporterServer:
    """The exporter's HTTP endpoint around a registry; start() serves from a background thread."""

    def __init__(
        self,
        registry: Registry,
        listen: tuple,
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

    def health(self) -> dict:
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
