"""How many examples a property test draws: its full count in `make test`, a quarter of it in the fast tier.

`make test` runs every test, the fast tier's included, with the counts written at each `@settings`; that run
is where the properties are searched hard. The fast tier (`make test-fast`, a loop run while editing) spends
about 40% of its CPU in hypothesis at full counts, so tests/conftest.py's pytest_configure sets FAST there:
each property then draws `examples(n)`, derandomized (the fast tier's failures repeat, run after run). The
explicit `@example`s of a test always run, whatever the tier.
"""

from __future__ import annotations

# Set by tests/conftest.py before any test module is imported (the decorators read it at import time).
FAST = False
# A quarter of the written count: the drawn examples stay varied (hypothesis spends its first ones on the
# smallest and the most extreme values of each strategy), and a property with a small count keeps a floor.
_FAST_SHARE = 4
_FAST_FLOOR = 10


def examples(full: int) -> int:
    """max_examples for a property whose full count is `full`."""
    if not FAST:
        return full
    return min(full, max(_FAST_FLOOR, full // _FAST_SHARE))
