"""The HTTP(S) server: /metrics, /healthz, /health, with basic auth and TLS from the web config."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import __version__
from .registry import OPENMETRICS, TEXT, Registry
from .webconfig import WebConfig

log = logging.getLogger("promspec.exporter")

_CONTENT_TYPES = {TEXT: "text/plain; version=0.0.4; charset=utf-8",
                  OPENMETRICS: "application/openmetrics-text; version=1.0.0; charset=utf-8"}
_IDLE_TIMEOUT_S = 30.0
_HANDSHAKE_TIMEOUT_S = 10.0


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


def choose_format(accept: str | None) -> str:
    """OpenMetrics when the client asks for it (Prometheus does), else the text format."""
    return OPENMETRICS if accept and "application/openmetrics-text" in accept else TEXT


def accepts_gzip(accept_encoding: str | None) -> bool:
    """True when the Accept-Encoding header lists gzip."""
    if not accept_encoding:
        return False
    return any(part.split(";")[0].strip() == "gzip" for part in accept_encoding.split(","))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, handler, exporter: "ExporterServer"):
        self.address_family = socket.AF_INET6 if ":" in address[0] or address[0] == "" else socket.AF_INET
        self.exporter = exporter
        super().__init__(address, handler)

    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            # ':port' means every interface, IPv4 included, as node_exporter does.
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()

    def finish_request(self, request, client_address):
        tls = self.exporter.web_config.tls
        if tls is not None:
            # The handshake runs here, in the connection's own thread, so a slow client blocks nobody.
            try:
                request.settimeout(_HANDSHAKE_TIMEOUT_S)
                request = tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError) as exc:
                log.debug("TLS handshake with %s failed: %s", client_address, exc)
                return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"promspec-exporter/{__version__}"
    timeout = _IDLE_TIMEOUT_S
    # Headers and body leave in two writes; without this, delayed ACKs add 40 ms to every scrape.
    disable_nagle_algorithm = True

    def do_GET(self):
        self._respond(send_body=True)

    def do_HEAD(self):
        self._respond(send_body=False)

    def log_message(self, format, *args):  # noqa: A002 - the base class names it so
        log.debug("%s %s", self.address_string(), format % args)

    def _respond(self, send_body: bool) -> None:
        exporter: ExporterServer = self.server.exporter
        if not exporter.web_config.authorized(self.headers.get("Authorization")):
            self._send(401, b"Unauthorized\n", "text/plain; charset=utf-8", send_body,
                       {"WWW-Authenticate": 'Basic realm="promspec-exporter"'})
            return
        path = self.path.split("?", 1)[0]
        if path == exporter.telemetry_path:
            self._metrics(exporter, send_body)
        elif path == "/healthz":
            self._send(200, b"ok\n", "text/plain; charset=utf-8", send_body)
        elif path == "/health":
            body = json.dumps(exporter.health(), indent=2, sort_keys=True).encode() + b"\n"
            self._send(200, body, "application/json", send_body)
        elif path == "/":
            page = (f"<html><head><title>promspec-exporter</title></head><body><h1>promspec-exporter</h1>"
                    f'<p><a href="{exporter.telemetry_path}">Metrics</a> &middot; <a href="/health">Health</a>'
                    f"</p></body></html>\n")
            self._send(200, page.encode(), "text/html; charset=utf-8", send_body)
        else:
            self._send(404, b"Not Found\n", "text/plain; charset=utf-8", send_body)

    def _metrics(self, exporter: "ExporterServer", send_body: bool) -> None:
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
        self.end_headers()
        if send_body:
            self.wfile.write(body)


class ExporterServer:
    """The exporter's HTTP endpoint around a registry; start() serves from a background thread."""

    def __init__(self, registry: Registry, listen: tuple, web_config: WebConfig | None = None,
                 telemetry_path: str = "/metrics"):
        self.registry = registry
        self.web_config = web_config or WebConfig()
        self.telemetry_path = telemetry_path
        self._httpd = _Server(listen, _Handler, self)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0)."""
        return self._httpd.server_address[1]

    def health(self) -> dict:
        """Per-collector outcome of the last scrape, for /health."""
        return {"collectors": {name: h.as_json() for name, h in self.registry.health.items()},
                "version": __version__}

    def serve_forever(self) -> None:
        """Serve until shutdown() is called from another thread."""
        self._httpd.serve_forever(poll_interval=0.5)

    def start(self) -> "ExporterServer":
        """Serve from a daemon thread and return at once."""
        self._thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serving and close the listening socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
