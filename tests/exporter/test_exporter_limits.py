"""The HTTP server under hostile clients and hung collectors: limits, timeouts, /healthz, SIGTERM, a real hung mount."""

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest

from promspec.exporter.registry import Registry, StatelessCollector
from promspec.exporter.server import ExporterServer, ServerLimits, _Slots

from .exporter_harness import HERE, REPO, http_get, samples, value, wait_for
from .test_exporter_server import pki  # noqa: F401 - the certificates fixture

pytestmark = pytest.mark.slow


class Blocking(StatelessCollector):
    """A collector whose collect() waits on an Event, as one reading a hung file would."""

    name = "blocking"

    def __init__(self, release: threading.Event):
        self.release = release

    def collect(self) -> list:
        self.release.wait()
        return []


@pytest.fixture
def serve():
    started = []

    def start(collectors, timeout: float = 8.0, **limits) -> ExporterServer:
        registry = Registry(collectors, timeout=timeout)
        server = ExporterServer(registry, ("127.0.0.1", 0), limits=ServerLimits(**limits)).start()
        started.append((server, registry))
        return server

    yield start
    for server, registry in started:
        server.shutdown()
        registry.close()


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _closed_within(sock: socket.socket, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection; fails if it stays open past `seconds`."""
    sock.settimeout(seconds)
    received = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return received
            received += chunk
    except TimeoutError:
        pytest.fail(f"the server kept the connection open over {seconds}s; got {received[:200]!r}")


def test_healthz_reports_a_stuck_collector(serve):
    release = threading.Event()
    try:
        server = serve([Blocking(release)], timeout=0.3)
        status, _, body = http_get(server.port)
        assert status == 200 and value(body.decode(), "promspec_exporter_collector_success", collector="blocking") == 0
        status, _, body = http_get(server.port, "/healthz")
        assert status == 503 and b"collector blocking stuck" in body
        release.set()
        wait_for(lambda: http_get(server.port, "/healthz")[0] == 200, "/healthz to recover")
    finally:
        release.set()


def test_max_requests_answers_503_beyond_the_limit(serve):
    release = threading.Event()
    try:
        server = serve([Blocking(release)], max_requests=1)
        first = threading.Thread(target=http_get, args=(server.port,))
        first.start()
        wait_for(
            lambda: server.registry.health["blocking"] is not None and server.registry._workers.running(),
            "the first scrape to start",
        )
        status, _, body = http_get(server.port, "/healthz")
        assert status == 503 and b"limit of concurrent requests reached (1)" in body
        release.set()
        first.join(10)
        # The slot is freed just after the first response is written, which the client may read first.
        wait_for(lambda: http_get(server.port, "/healthz")[0] == 200, "the slot of the first request to be freed", 10)
    finally:
        release.set()


def _connection_threads() -> int:
    return sum(1 for t in threading.enumerate() if "process_request_thread" in t.name)


def test_max_connections_refuses_when_every_connection_is_busy(serve):
    release = threading.Event()
    try:
        server = serve([Blocking(release)], max_connections=3)
        busy = [threading.Thread(target=http_get, args=(server.port,)) for _ in range(3)]
        for thread in busy:
            thread.start()
        wait_for(lambda: server.registry._workers.running() and _connection_threads() >= 3, "three scrapes in flight")
        before = _connection_threads()
        for _ in range(4):
            extra = _connect(server.port)
            assert _closed_within(extra, 10).startswith(b"HTTP/1.1 503")
            extra.close()
        assert _connection_threads() <= before  # no thread for the refused ones
        release.set()
        for thread in busy:
            thread.join(10)
        assert http_get(server.port, "/healthz")[0] == 200
    finally:
        release.set()


def test_a_full_server_closes_the_longest_idle_connection_for_a_new_one(serve):
    server = serve([], max_connections=3, read_header_timeout=30)
    idle = [_connect(server.port) for _ in range(3)]
    try:
        time.sleep(1.5)  # longer than the grace a connection gets to send its request
        for _ in range(3):
            assert http_get(server.port, "/healthz")[0] == 200
        evicted = 0
        for sock in idle:
            sock.settimeout(0.5)
            with contextlib.suppress(TimeoutError):  # still open: not evicted
                evicted += sock.recv(1) == b""
        assert evicted >= 1
    finally:
        for sock in idle:
            sock.close()


def test_a_client_dripping_headers_is_cut_off(serve):
    server = serve([], read_header_timeout=0.5)
    sock = _connect(server.port)
    start = time.monotonic()
    sock.sendall(b"GET /metrics HTTP/1.1\r\n")
    # One byte every 0.1 s: each recv is quick, the whole header never completes.
    for byte in b"X-Slow: " + b"a" * 40:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            break
        time.sleep(0.1)
        if time.monotonic() - start > 5:
            break
    _closed_within(sock, 5)
    assert time.monotonic() - start < 5
    sock.close()


def test_silent_and_idle_connections_are_closed(serve):
    server = serve([], read_header_timeout=0.5, idle_timeout=0.5)
    silent = _connect(server.port)
    assert _closed_within(silent, 5) == b""
    silent.close()
    kept = _connect(server.port)
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _closed_within(kept, 5).startswith(b"HTTP/1.1 200")
    kept.close()


def test_a_get_body_is_refused_not_parsed_as_a_second_request(serve):
    server = serve([])
    sock = _connect(server.port)
    smuggled = b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
    sock.sendall(
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(len(smuggled)).encode() + b"\r\n\r\n" + smuggled
    )
    reply = _closed_within(sock, 10)
    sock.close()
    assert reply.startswith(b"HTTP/1.1 400") and reply.count(b"HTTP/1.1 ") == 1, reply
    chunked = _connect(server.port)
    chunked.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert _closed_within(chunked, 10).startswith(b"HTTP/1.1 400")
    chunked.close()


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss (iproute2) is not installed")
def test_listen_backlog_is_raised(serve):
    server = serve([])
    out = subprocess.run(
        ["ss", "-Hltn", f"sport = :{server.port}"], capture_output=True, text=True, check=True
    ).stdout.split()
    # For a listening socket ss prints the backlog as Send-Q (the kernel caps it at somaxconn).
    with open("/proc/sys/net/core/somaxconn") as handle:
        somaxconn = int(handle.read())
    assert int(out[2]) == min(1024, somaxconn) and int(out[2]) > 5, out


def _threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("Threads:")).split()[1])


def _proc_with_mounts(tmp_path, lines: str):
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "mounts").write_text(lines)
    return proc


def _serve_and_stop(command, log_path, hung_mount: str):
    """Start the exporter command, scrape it while a mount hangs, then SIGTERM it; returns its exit code."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        match = wait_for(
            lambda: (
                re.search(r"listening on http://127\.0\.0\.1:(\d+)", log_path.read_text()) or process.poll() is not None
            ),
            "the exporter to listen",
        )
        assert process.poll() is None, log_path.read_text()
        port = int(match.group(1))
        threads = []
        for _ in range(8):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            start = time.monotonic()
            connection.request("GET", "/metrics")
            body = connection.getresponse().read().decode()
            connection.close()
            assert time.monotonic() - start < 8
            errors = {labels["mountpoint"]: v for labels, v in samples(body, "node_filesystem_device_error")}
            assert errors[hung_mount] == 1, errors
            assert value(body, "promspec_exporter_collector_success", collector="filesystem") == 1
            threads.append(_threads(process.pid))
        # A hung mount holds one thread, not one more per scrape; connection threads may take a moment to end.
        wait_for(
            lambda: _threads(process.pid) <= threads[1],
            f"the thread count to settle (per scrape: {threads})",
            timeout=5,
        )
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_injected_hung_statfs_no_thread_growth_and_sigterm_stops(tmp_path):
    hung = str(tmp_path / "hung")
    proc = _proc_with_mounts(tmp_path, f"/dev/vda1 {tmp_path} ext4 rw 0 0\nremote:/x {hung} nfs4 rw 0 0\n")
    command = [
        sys.executable,
        str(HERE / "hung_exporter.py"),
        "--web.listen-address=127.0.0.1:0",
        "--collectors.enable=filesystem,process",
        f"--path.procfs={proc}",
        "--collector.filesystem.mount-timeout=0.3s",
    ]
    assert _serve_and_stop(command, tmp_path / "log", hung) == 0


def _private_mount_namespace_reason() -> str:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "needs root on Linux to mount FUSE in a private mount namespace"
    if shutil.which("unshare") is None or not os.path.exists("/dev/fuse"):
        return "needs unshare(1) and /dev/fuse"
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True)
    if probe.returncode != 0:
        return f"unshare -m is not allowed here: {probe.stderr.decode().strip()}"
    return ""


@pytest.mark.skipif(bool(_private_mount_namespace_reason()), reason=_private_mount_namespace_reason() or "-")
def test_real_hung_fuse_mount_in_a_private_namespace(tmp_path):
    # A FUSE mount whose daemon never answers (not even FUSE_INIT): statfs on it blocks in the kernel.
    # It lives in a private mount namespace that ends with the exporter, so nothing leaks to the host.
    mountpoint = tmp_path / "hung-fuse"
    mountpoint.mkdir()
    proc = _proc_with_mounts(tmp_path, f"/dev/vda1 {tmp_path} ext4 rw 0 0\npromspec-hung {mountpoint} fuse rw 0 0\n")
    script = (
        f"exec 3<>/dev/fuse && mount -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 promspec-hung "
        f'"{mountpoint}" && exec "$0" -m promspec.exporter --web.listen-address=127.0.0.1:0 '
        f'--collectors.enable=filesystem,process --path.procfs="{proc}" '
        f"--collector.filesystem.mount-timeout=0.3s"
    )
    command = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, sys.executable]
    assert _serve_and_stop(command, tmp_path / "log", str(mountpoint)) == 0


def test_a_stalled_tls_handshake_is_evicted_for_a_real_client(tmp_path, pki):  # noqa: F811 - the fixture
    from promspec.exporter import webconfig

    directory, _ = pki
    path = directory / "web.yml"
    path.write_text("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
    registry = Registry([])
    server = ExporterServer(
        registry, ("127.0.0.1", 0), webconfig.load(str(path)), limits=ServerLimits(max_connections=1)
    ).start()
    stalled = _connect(server.port)  # TCP only: the handshake never starts
    try:
        time.sleep(1.5)
        client = ssl.create_default_context(cafile=str(directory / "ca.crt"))
        assert http_get(server.port, "/healthz", tls=client)[0] == 200
        assert _closed_within(stalled, 5) == b""
    finally:
        stalled.close()
        server.shutdown()
        registry.close()


def test_the_request_cap_refuses_when_full_and_takes_again_when_given_back():
    slots = _Slots(2)
    assert slots.take() and slots.take() and not slots.take()
    slots.give()
    assert slots.take() and not slots.take()
