"""Shared fixtures: the promspec CLI, real promtool, free loopback ports, a real Prometheus."""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def require_tool(name: str) -> str:
    """Path of a real tool; a missing one fails the test (never skips): `make test` installs them."""
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} is not installed: run `make test`, which installs Debian's prometheus packages")
    return path


def run_promspec(*args, cwd=REPO, env=None, check=None, timeout=None) -> subprocess.CompletedProcess:
    """Run the installed `promspec` console script as a user would.

    timeout guards against a hang, not a speed limit: `promspec check` runs promtool on every generated test file
    (about 60 s for the bundled output on a quiet 2-core machine, and it hit 120 s at load 10-14), so it gets 300 s.
    """
    if timeout is None:
        timeout = 300 if args[:1] == ("check",) else 120
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [os.path.join(BIN, "promspec"), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )
    if check is not None:
        assert proc.returncode == check, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def promspec_in_process(
    *args: str, cwd: str = REPO, env: dict[str, str] | None = None, check: int | None = None
) -> subprocess.CompletedProcess:
    """Run the promspec CLI in this process through click's CliRunner: what run_promspec does, minus the
    interpreter start, so pure logic behind the CLI (exit codes, messages, files written) stays in the fast tier.

    Returns a CompletedProcess like run_promspec. An exception that escapes the command is what a user would see
    as a traceback, so it is written to stderr with the word "Traceback" for the tests that assert there is none.
    """
    import traceback

    from click.testing import CliRunner

    from promspec.cli import cli

    previous = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, list(args), env=env, prog_name="promspec", catch_exceptions=True)
    finally:
        os.chdir(previous)
    stderr = result.stderr
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(*result.exc_info))
    proc = subprocess.CompletedProcess(["promspec", *args], result.exit_code, result.stdout, stderr)
    if check is not None:
        assert proc.returncode == check, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def snapshot(directory: str) -> dict:
    """Every file under directory with its bytes, for before/after comparisons."""
    out = {}
    for dirpath, _dirs, files in os.walk(directory):
        for name in files:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, directory)] = fh.read()
    return out


def http_json(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.load(resp)


def log_tail(path: str, chars: int = 2000) -> str:
    """The end of a server's log, for a failure message."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()[-chars:]


class PrometheusServer:
    """A real Prometheus on 127.0.0.1 with a free port; stopped by its PID."""

    def __init__(self, config: str, data_dir: str, extra_args=()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(data_dir, "prometheus.log")
        with open(self.log_path, "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [
                    require_tool("prometheus"),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={data_dir}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=3650d",
                    *extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/-/ready", timeout=1)
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("Prometheus did not become ready: " + log_tail(self.log_path))

    def query(self, expr: str) -> list:
        from urllib.parse import quote

        body = http_json(f"{self.url}/api/v1/query?query={quote(expr)}")
        assert body["status"] == "success", body
        return body["data"]["result"]

    def query_at(self, expr: str, ts: float) -> list:
        from urllib.parse import quote

        body = http_json(f"{self.url}/api/v1/query?query={quote(expr)}&time={ts}")
        assert body["status"] == "success", body
        return body["data"]["result"]

    def stop(self) -> None:
        stop_processes([self.proc])


# A throwaway server that has not exited this long after SIGTERM is waiting on something the test no longer needs
# (Prometheus holds its shutdown up to remote_write's 1-minute flush deadline once the receiver is gone): kill it.
STOP_GRACE_S = 2.0


def stop_processes(procs: list[subprocess.Popen], grace: float = STOP_GRACE_S) -> None:
    """SIGTERM every process at once, give them one shared grace period, then SIGKILL the ones still running."""
    running = [proc for proc in procs if proc.poll() is None]
    for proc in running:
        proc.terminate()
    deadline = time.monotonic() + grace
    for proc in running:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def prometheus_factory(tmp_path):
    servers: list[PrometheusServer] = []

    def start(config: str, extra_args=()) -> PrometheusServer:
        data = tmp_path / f"tsdb{len(servers)}"
        data.mkdir()
        server = PrometheusServer(config, str(data), extra_args)
        servers.append(server)
        return server

    yield start
    stop_processes([server.proc for server in servers])


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_tool("promtool")


@pytest.fixture(scope="session", autouse=True)
def _remembered_promtool_tests(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Put tests/promtool_cache.py first on PATH as `promtool` for the slow tier: the suite runs the same
    unit-test files of the bundled output through `promtool test rules` dozens of times, and a passing run of
    byte-identical inputs is replayed (the wrapper's docstring says exactly what). PROMSPEC_TEST_PROMTOOL_CACHE=0
    runs the real promtool every time."""
    real = shutil.which("promtool")
    if _fast_tier(request.config) or real is None or os.environ.get("PROMSPEC_TEST_PROMTOOL_CACHE") == "0":
        return
    # One directory per run, shared by the pytest-xdist workers (each worker's basetemp is popen-gwN below it).
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    cache = root / "promtool-cache"
    bin_dir = cache / f"bin-{os.getpid()}"
    bin_dir.mkdir(parents=True, exist_ok=True)
    wrapper = bin_dir / "promtool"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"PROMTOOL_CACHE_REAL={shlex.quote(real)} PROMTOOL_CACHE_DIR={shlex.quote(str(cache))} "
        f'exec {shlex.quote(sys.executable)} {shlex.quote(os.path.join(REPO, "tests", "promtool_cache.py"))} "$@"\n'
    )
    wrapper.chmod(0o755)
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ["PROMSPEC_TEST_REAL_PROMTOOL"] = real  # for tests/test_promtool_cache.py's oracle


# --- The fast tier's hypothesis budget ---------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    """In the fast tier, property tests draw a quarter of their examples, derandomized (tests/hypothesis_budget.py
    says why); `make test` keeps the counts as written. Runs before any test module is imported, on every
    pytest-xdist worker too. `make test`'s serial part (`-m serial`) also deselects slow tests, but it runs none
    of the unmarked ones: it keeps the written counts."""
    if not _fast_tier(config) or not _selects(config.getoption("markexpr", default="") or "", None):
        return
    from hypothesis import settings

    import hypothesis_budget

    hypothesis_budget.FAST = True
    # A property that writes no max_examples draws hypothesis's default of 100, so examples(100) here. No
    # database: a derandomized run draws the same examples every time, and nothing need be remembered.
    settings.register_profile(
        "promspec-fast", max_examples=hypothesis_budget.examples(100), derandomize=True, database=None
    )
    settings.load_profile("promspec-fast")


# --- The fast tier's guard -------------------------------------------------------------------------------------
# `make test-fast` runs `-m "not slow"`. A test that starts a process or opens a socket but is not marked slow would
# quietly make that tier slow (or need tools it does not install), so while an unmarked test runs in that tier,
# process creation and socket connect/bind are replaced by a tripwire. The tripwire raises, and also records the
# violation: code under test often turns OSError (or any Exception) into a friendly message, and a swallowed
# exception must still fail the test.


class SlowCallInFastTier(RuntimeError):
    """An unmarked test started a subprocess or used a socket while the fast tier was running."""


_violations: list[str] = []


def _fast_tier(config: pytest.Config) -> bool:
    """True when the -m expression deselects tests marked slow (e.g. `-m "not slow"`)."""
    return not _selects(config.getoption("markexpr", default="") or "", "slow")


# Asked for every phase of every test (the guard below): compiling the expression each time cost ~0.4 ms, about
# 1.5 s of the fast tier's CPU. The answer is a pure function of the expression's text and the marker.
@functools.cache
def _selects(markexpr: str, marker: str | None) -> bool:
    """Whether `-m markexpr` selects a test whose only marker is `marker` (None: a test with no marker)."""
    if not markexpr.strip():
        return True
    try:
        from _pytest.mark.expression import Expression

        def carries(name: str, /, **_kwargs: object) -> bool:
            return name == marker

        return Expression.compile(markexpr).evaluate(carries)
    except Exception:  # pytest moved its private expression module: fall back to reading the text
        return ("not slow" in markexpr) != (marker == "slow")


def _tripwire(what: str) -> Callable[..., object]:
    def trip(*args: object, **_kwargs: object) -> object:
        detail = f"{what}({', '.join(repr(a)[:120] for a in args[1:2] or args[:1])})"
        _violations.append(detail)
        raise SlowCallInFastTier(
            f"{detail} in a test that is not marked slow: add @pytest.mark.slow "
            "(or pytestmark = pytest.mark.slow for the module), or keep the test in-process"
        )

    return trip


def _install_guard(mp: pytest.MonkeyPatch) -> None:
    import _posixsubprocess

    mp.setattr(subprocess.Popen, "__init__", _tripwire("subprocess.Popen"))
    mp.setattr(subprocess, "_fork_exec", _tripwire("fork_exec"))
    mp.setattr(_posixsubprocess, "fork_exec", _tripwire("fork_exec"))
    for name in ("system", "fork", "forkpty", "posix_spawn", "posix_spawnp", "spawnv", "spawnve", "execv", "execve"):
        if hasattr(os, name):
            mp.setattr(os, name, _tripwire(f"os.{name}"))
    for name in ("connect", "connect_ex", "bind"):
        mp.setattr(socket.socket, name, _tripwire(f"socket.{name}"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    return (yield from _guarded(item))


def _guarded(item: pytest.Item) -> Iterator[None]:
    """Run one phase (setup, call, teardown: module fixtures start in setup) under the tripwire when it applies."""
    if item.get_closest_marker("slow") is not None or not _fast_tier(item.config):
        return (yield)
    _violations.clear()
    mp = pytest.MonkeyPatch()
    _install_guard(mp)
    failure: BaseException | None = None
    try:
        result = yield
    except BaseException as exc:  # re-raised below, chained to the violation when there is one
        failure = exc
    finally:
        mp.undo()
    if _violations:
        found = "; ".join(dict.fromkeys(_violations))
        _violations.clear()
        raise SlowCallInFastTier(f"{item.nodeid} is not marked slow but did: {found}") from failure
    if failure is not None:
        raise failure
    return result
