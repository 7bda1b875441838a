"""The console script's process: the cyclic GC's first threshold raised before any command runs (see
process.GC_THRESHOLD), the collector off while generate runs and restored after, and an exit that skips the
heap's teardown but nothing a normal exit promises (status, atexit handlers, flushed output)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from promspec import cli, generate_cli, process
from promspec.diagnostics import Report
from promspec.model.loader import load_paths


class _Exited(Exception):
    def __init__(self, code: object) -> None:
        self.code = code


@pytest.fixture
def exits(monkeypatch):
    """cli.main with its final os._exit replaced by an exception carrying the status (os._exit would end pytest)."""

    def record(code: object) -> None:
        raise _Exited(code)

    monkeypatch.setattr(process, "exit_now", record)


def test_main_sets_the_gc_threshold(monkeypatch, capsys, exits):
    before = gc.get_threshold()
    monkeypatch.setattr(sys, "argv", ["promspec", "--version"])
    try:
        with pytest.raises(_Exited) as exc:
            cli.main()
        assert exc.value.code == 0 and "promspec" in capsys.readouterr().out
        assert gc.get_threshold() == process.GC_THRESHOLD
        assert process.GC_THRESHOLD[0] > 700 * 100  # the default collected every 700 allocations
    finally:
        gc.set_threshold(*before)


@pytest.mark.parametrize(
    ("argv", "code"), [(["--version"], 0), (["--no-such-option"], 2), (["generate", "--jobs", "x"], 2)]
)
def test_main_exits_with_the_status_click_gives(monkeypatch, capsys, exits, argv, code):
    before = gc.get_threshold()
    monkeypatch.setattr(sys, "argv", ["promspec", *argv])
    try:
        with pytest.raises(_Exited) as exc:
            cli.main()
        assert exc.value.code == code
    finally:
        gc.set_threshold(*before)


@pytest.mark.parametrize("enabled", [True, False])
def test_generate_runs_with_the_collector_off_and_restores_it(enabled):
    (gc.enable if enabled else gc.disable)()
    try:
        with process.cyclic_collector_off():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError), process.cyclic_collector_off():
            raise RuntimeError("a failing generate")
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_loading_leaves_a_disabled_collector_disabled(tmp_path: Path):
    (tmp_path / "a.yml").write_text("kind: Settings\n", encoding="utf-8")
    gc.disable()
    try:
        load_paths([str(tmp_path)], Report())
        assert not gc.isenabled()  # generate turned it off for its whole run: loading must not turn it on
    finally:
        gc.enable()
    load_paths([str(tmp_path)], Report())
    assert gc.isenabled()


def _buffered() -> dict[str, str]:
    """The environment with stdout block-buffered into a pipe, whatever this machine sets (PYTHONUNBUFFERED)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [("0", 0, ""), ("None", 0, ""), ("3", 3, ""), ("'bad input'", 1, "bad input\n")],
)
def test_the_fast_exit_keeps_what_an_exit_promises(tmp_path: Path, code, status, stderr):
    marker = tmp_path / "atexit-ran"
    script = textwrap.dedent(
        f"""
        import atexit, sys, weakref
        from promspec.process import exit_now
        atexit.register(lambda: open({str(marker)!r}, "w").write("yes"))
        class Held: pass
        held = Held()
        weakref.finalize(held, lambda: sys.stdout.write(" finalized"))
        sys.stdout.write("unflushed")  # no newline: still in the buffer when exit_now is called
        exit_now({code})
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=_buffered())
    assert done.returncode == status
    assert done.stdout == "unflushed finalized"
    assert done.stderr == stderr
    assert marker.read_text() == "yes"


@pytest.mark.slow
def test_the_fast_exit_with_stdout_closed_says_120_as_python_does():
    script = "import os, sys\nfrom promspec.process import exit_now\nsys.stdout.write('x')\nos.close(1)\nexit_now(0)\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, env=_buffered())
    assert done.returncode == 120


def test_the_generate_command_runs_with_the_collector_off(monkeypatch):
    from click.testing import CliRunner

    seen: list[bool] = []

    def load(specs: tuple[str, ...], strict: bool = False) -> None:
        seen.append(gc.isenabled())
        raise SystemExit(7)

    monkeypatch.setattr(generate_cli, "load_build_or_exit", load)
    assert gc.isenabled()
    result = CliRunner().invoke(cli.cli, ["generate", "nowhere", "-j", "1"])
    assert seen == [False] and result.exit_code == 7
    assert gc.isenabled()  # restored for the rest of this process


@pytest.mark.slow
def test_the_fast_exit_waits_for_a_running_non_daemon_thread_as_python_does(tmp_path: Path):
    marker = tmp_path / "thread-done"
    script = textwrap.dedent(
        f"""
        import threading, time
        from promspec.process import exit_now
        def work():
            time.sleep(0.3)
            open({str(marker)!r}, "w").write("done")
        threading.Thread(target=work).start()
        exit_now(4)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=_buffered())
    assert done.returncode == 4
    assert marker.read_text() == "done"  # os._exit would have cut the thread's work off
