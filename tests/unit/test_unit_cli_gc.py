"""The console script raises the cyclic GC's first threshold before any command runs (see cli.GC_THRESHOLD)."""

from __future__ import annotations

import gc
import sys

import pytest

from promspec import cli


def test_main_sets_the_gc_threshold(monkeypatch, capsys):
    before = gc.get_threshold()
    monkeypatch.setattr(sys, "argv", ["promspec", "--version"])
    try:
        with pytest.raises(SystemExit) as exc:
            cli.main()
        assert exc.value.code == 0 and "promspec" in capsys.readouterr().out
        assert gc.get_threshold() == cli.GC_THRESHOLD
        assert cli.GC_THRESHOLD[0] > 700 * 100  # the default collected every 700 allocations
    finally:
        gc.set_threshold(*before)
