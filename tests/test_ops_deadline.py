"""status and collect against hostile Prometheus look-alikes on loopback: a server that drips one byte at a
time, an endless body, JSON of the wrong shape. Each is a clear error within the deadline, never a hang or a
traceback (issue 15, item 12)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from promspec.live import http
from promspec.live.http import APIError, overall_deadline, query_result, request

from conftest import run_promspec


class Hostile:
    """A loopback HTTP server answering every request the way `mode` says; close() stops every handler."""

    def __init__(self, mode: str, body: bytes = b""):
        stop = self.stop = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                try:
                    if mode == "drip":  # one byte at a time: every socket read returns in time
                        for byte in b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"status": "succ':
                            if stop.wait(0.2):
                                return
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                        while not stop.wait(0.2):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                    elif mode == "endless":
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.end_headers()
                        self.wfile.write(b'{"status": "success", "data": {"result": [')
                        while not stop.is_set():
                            self.wfile.write(b'{"metric": {}, "value": [1, "1"]},' * 1000)
                    else:
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                except OSError:
                    return

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile(request):
    servers = []

    def make(mode, body=b""):
        servers.append(Hostile(mode, body))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


@pytest.mark.slow
def test_a_dripping_server_cannot_outlast_the_deadline(hostile):
    server = hostile("drip")
    started = time.monotonic()
    with pytest.raises(APIError, match=r"no complete answer within the --timeout of 1\.5s"), overall_deadline(1.5):
        request("POST", f"{server.url}/api/v1/query", form={"query": "up"}, timeout=30)
    assert time.monotonic() - started < 10  # bounded by the deadline, not by the per-read timeout


@pytest.mark.slow
def test_an_endless_body_is_refused_past_the_size_limit(hostile, monkeypatch):
    monkeypatch.setattr(http, "MAX_BODY", 1 << 20)
    server = hostile("endless")
    with pytest.raises(APIError, match="over 1 MiB"), overall_deadline(30):
        request("POST", f"{server.url}/api/v1/query", form={"query": "up"})


@pytest.mark.slow
def test_the_deadline_is_shared_by_every_request_of_a_command(hostile):
    server = hostile("json", json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}).encode())
    with overall_deadline(0.5):
        request("GET", server.url)
        time.sleep(0.6)
        with pytest.raises(APIError, match=r"--timeout of 0\.5s"):
            request("GET", server.url)


def test_a_timeout_must_be_positive():
    with pytest.raises(APIError, match="more than 0 seconds"), overall_deadline(0):
        pass


WRONG_SHAPES = [
    [],
    {"status": "success"},
    {"status": "success", "data": []},
    {"status": "success", "data": {"result": {"a": 1}}},
    {"status": "success", "data": {"resultType": "matrix", "result": []}},
    {"status": "success", "data": {"result": ["x"]}},
    {"status": "success", "data": {"result": [{"metric": "up", "value": [1, "1"]}]}},
    {"status": "success", "data": {"result": [{"metric": {"a": 1}, "value": [1, "1"]}]}},
    {"status": "success", "data": {"result": [{"metric": {}, "value": [1]}]}},
    {"status": "success", "data": {"result": [{"metric": {}, "value": [1, 2]}]}},
    {"status": "success", "data": {"result": [{"metric": {}, "value": [1, "not a number"]}]}},
    {"status": "success", "data": {"result": [{"metric": {}, "values": [[1, "1"]]}]}},
]


@pytest.mark.parametrize("answer", WRONG_SHAPES, ids=[str(i) for i in range(len(WRONG_SHAPES))])
def test_json_of_the_wrong_shape_is_a_clear_error(answer):
    with pytest.raises(APIError, match="answered JSON that is not a Prometheus /api/v1/query answer"):
        query_result(answer, "http://127.0.0.1:9", "vector")


def test_right_shapes_pass():
    vector = {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {"slo_id": "a"}, "value": [1.5, "0.25"]}]},
    }
    matrix = {
        "status": "success",
        "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "1"], [2, "NaN"]]}]},
    }
    assert query_result(vector, "s", "vector")[0]["value"] == [1.5, "0.25"]
    assert query_result(matrix, "s", "matrix")[0]["values"][1] == [2, "NaN"]


@pytest.mark.slow
@pytest.mark.parametrize("command", [["status"], ["collect", "--from", "now-1h", "--step", "5m", "-o", "OUT"]])
def test_status_and_collect_end_at_their_timeout_against_a_dripping_server(hostile, tmp_path, command):
    server = hostile("drip")
    args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
    started = time.monotonic()
    proc = run_promspec(*args, "specs", "--prometheus", server.url, "--timeout", "3", check=1, timeout=90)
    assert time.monotonic() - started < 60
    assert "no complete answer within the --timeout of 3s" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("command", [["status"], ["collect", "--from", "now-1h", "--step", "5m", "-o", "OUT"]])
def test_status_and_collect_refuse_json_of_the_wrong_shape(hostile, tmp_path, command):
    server = hostile("json", json.dumps({"status": "success", "data": {"result": {"oops": 1}}}).encode())
    args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
    proc = run_promspec(*args, "specs", "--prometheus", server.url, check=1, timeout=90)
    assert "answered JSON that is not a Prometheus" in proc.stderr and "Traceback" not in proc.stderr
