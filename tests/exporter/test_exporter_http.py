"""The exporter's own HTTP/1.1 request reader: request heads, keep-alive, pipelining, refusals."""

from __future__ import annotations

import socket

import pytest

from promspec.exporter.registry import Registry
from promspec.exporter.server import ExporterServer, HeadError, ServerLimits, head_end, parse_head


def test_a_scrape_head_parses():
    request = parse_head(
        b"GET /metrics?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nAccept: text/plain;version=0.0.4\r\n"
        b"Accept-Encoding: gzip\r\nUser-Agent: Prometheus/2.42.0"
    )
    assert (request.method, request.path, request.version) == ("GET", "/metrics", "HTTP/1.1")
    assert request.headers["accept-encoding"] == "gzip" and request.headers["host"] == "127.0.0.1:9100"
    assert not request.body_announced and request.keep_alive()


def test_header_names_are_case_insensitive_and_repeats_are_joined():
    request = parse_head(b"GET / HTTP/1.1\r\nACCEPT-encoding:  gzip \r\naccept-Encoding: identity")
    assert request.headers == {"accept-encoding": "gzip, identity"}


@pytest.mark.parametrize(
    "head, keep_alive",
    [
        (b"GET / HTTP/1.1", True),
        (b"GET / HTTP/1.1\r\nConnection: close", False),
        (b"GET / HTTP/1.1\r\nConnection: Keep-Alive, Close", False),
        (b"GET / HTTP/1.0", False),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive", True),
    ],
)
def test_keep_alive_follows_the_version_and_connection_header(head, keep_alive):
    assert parse_head(head).keep_alive() is keep_alive


@pytest.mark.parametrize(
    "head, status",
    [
        (b"GET /", 400),
        (b"GET  / HTTP/1.1", 400),
        (b"GET / HTTP/1.1 extra", 400),
        (b"GET / HTTQ/1.1", 400),
        (b"GET / HTTP/2.0", 505),
        (b"GET / HTTP/1.1\r\nno colon here", 400),
        (b"GET / HTTP/1.1\r\nHost : x", 400),  # whitespace before the colon (RFC 9112 5.1)
        (b"GET / HTTP/1.1\r\nA: b\r\n  folded", 400),  # obsolete line folding
        (b"GET / HTTP/1.1" + b"\r\nX: y" * 101, 431),
    ],
)
def test_malformed_heads_are_refused_with_their_status(head, status):
    with pytest.raises(HeadError) as raised:
        parse_head(head)
    assert raised.value.status == status


@pytest.mark.parametrize(
    "head", [b"GET / HTTP/1.1\r\nContent-Length: 5", b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked"]
)
def test_a_body_is_noticed(head):
    assert parse_head(head).body_announced
    assert not parse_head(b"GET / HTTP/1.1\r\nContent-Length: 0").body_announced


def test_scheme_relative_paths_are_not_kept():
    assert parse_head(b"GET //evil.example/metrics HTTP/1.1").path == "/evil.example/metrics"


@pytest.mark.parametrize(
    "buffer, end",
    [
        (b"GET / HTTP/1.1\r\nA: b\r\n\r\nnext", (20, 24)),
        (b"GET / HTTP/1.1\nA: b\n\nnext", (19, 21)),
        (b"GET / HTTP/1.1\nA: b\r\n\r\n", (19, 23)),
        (b"GET / HTTP/1.1\nA: b\n\r\n", (19, 22)),
        (b"GET / HTTP/1.1\r\nA: b\r\n", None),
    ],
)
def test_the_head_ends_at_the_first_empty_line(buffer, end):
    assert head_end(buffer) == end


@pytest.fixture(scope="module")  # one server for the module: each shutdown waits out a 0.5 s poll
def server():
    registry = Registry([], timeout=1.0)
    started = ExporterServer(registry, ("127.0.0.1", 0), limits=ServerLimits(read_header_timeout=5)).start()
    yield started
    started.shutdown()
    registry.close()


def _exchange(port: int, data: bytes) -> bytes:
    """Send data, then read until the server closes the connection (or 5 s pass)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return received


@pytest.mark.slow
def test_pipelined_requests_are_answered_in_order_then_close(server):
    reply = _exchange(
        server.port,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    answers = reply.split(b"HTTP/1.1 ")[1:]
    assert [a[:3] for a in answers] == [b"200", b"200", b"404"], reply
    assert answers[0].endswith(b"\r\n\r\nok\n")
    head = answers[1].split(b"\r\n")
    length = int(next(line for line in head if line.lower().startswith(b"content-length:")).split(b":")[1])
    assert length > 0 and answers[1].endswith(b"\r\n\r\n")  # HEAD: the length, no body
    assert b"Connection: close" in answers[2] and b"Date: " in answers[0] and b"Server: promspec-exporter/" in reply


@pytest.mark.slow
@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", b"501"),
        (b"GET /metrics HTTP/2.0\r\n\r\n", b"505"),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"414"),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n", b"431"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", b"400"),  # a TLS hello to the plain port
    ],
)
def test_refusals_answer_once_and_close(server, request_bytes, status):
    reply = _exchange(server.port, request_bytes)
    assert reply.startswith(b"HTTP/1.1 " + status) and reply.count(b"HTTP/1.1 ") == 1, reply[:200]
    assert b"Connection: close" in reply


@pytest.mark.slow
def test_http_1_0_gets_one_answer_and_a_close(server):
    reply = _exchange(server.port, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"ok\n")


@pytest.mark.slow
def test_leading_blank_lines_and_bare_lf_heads_are_served(server):
    reply = _exchange(server.port, b"\r\n\r\nGET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n")
    assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"ok\n")
