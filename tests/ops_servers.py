"""Real Alertmanager and a loopback webhook receiver for the notification, silence and stack tests."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import PrometheusServer, free_port, log_tail, require_tool


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    """Poll predicate until it returns something truthy; fail the test with what after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


class AlertmanagerServer:
    """The Debian prometheus-alertmanager on 127.0.0.1 with a free port, without clustering; stopped by PID."""

    def __init__(self, config: str, data_dir: str, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        os.makedirs(data_dir, exist_ok=True)
        self.log_path = os.path.join(data_dir, "alertmanager.log")
        with open(self.log_path, "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [
                    require_tool("prometheus-alertmanager"),
                    f"--config.file={config}",
                    f"--storage.path={data_dir}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(self._ready, 30, "Alertmanager /-/ready")
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail("Alertmanager exited: " + log_tail(self.log_path))
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=1):
                return True
        except OSError:
            return False

    def api(self, method: str, path: str, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + "/api/v2" + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def post_alerts(self, *alerts: dict) -> None:
        self.api("POST", "/alerts", list(alerts))

    stop = PrometheusServer.stop  # the same: terminate by PID, then kill after conftest.STOP_GRACE_S


class WebhookReceiver:
    """Collects Alertmanager webhook payloads, by URL path, on a loopback port."""

    def __init__(self):
        self.received: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def payloads(self, path: str) -> list[dict]:
        with self.lock:
            return [body for p, body in self.received if p == path]

    def alerts(self, path: str, **labels) -> list[dict]:
        """Every alert (status and labels) posted to path whose labels include these."""
        return [
            a
            for body in self.payloads(path)
            for a in body["alerts"]
            if all(a["labels"].get(k) == v for k, v in labels.items())
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FlakyProxy:
    """A loopback HTTP proxy to a real server that can fail (with a status) or slow down requests on demand."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.fail_next = 0  # requests still to fail
        self.fail_status = 503
        self.delay = 0.0
        self.requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0)) or None
                proxy.requests += 1
                if proxy.delay:
                    time.sleep(proxy.delay)
                if proxy.fail_next:
                    proxy.fail_next -= 1
                    self._reply(proxy.fail_status, b'{"status":"error","error":"injected by the test proxy"}')
                    return
                req = urllib.request.Request(
                    proxy.upstream + self.path,
                    data=body,
                    method=self.command,
                    headers={k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")},
                )
                try:
                    with urllib.request.urlopen(req, timeout=60) as resp:
                        self._reply(resp.status, resp.read())
                except urllib.error.HTTPError as exc:
                    self._reply(exc.code, exc.read())

            def _reply(self, status: int, data: bytes):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward

            def log_message(self, *args):
                pass

        self.open_connections = 0  # accepted and not yet finished: a killed client's last request may be one
        self.lock = threading.Lock()

        class Server(ThreadingHTTPServer):
            def process_request(self, request, client_address):
                with proxy.lock:
                    proxy.open_connections += 1
                super().process_request(request, client_address)

            def process_request_thread(self, request, client_address):
                try:
                    super().process_request_thread(request, client_address)
                finally:
                    with proxy.lock:
                        proxy.open_connections -= 1

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_idle(self, quiet: float = 0.3) -> None:
        """Return once no connection has been open for `quiet` seconds: every request a client (even a killed one)
        already sent has been counted in `requests` (on a loaded machine its handler thread can run late)."""
        wait_for(lambda: self.open_connections == 0, 30, "the proxy's open connections to finish")
        time.sleep(quiet)
        wait_for(lambda: self.open_connections == 0, 30, "the proxy's open connections to finish")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
