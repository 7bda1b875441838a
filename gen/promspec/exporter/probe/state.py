"""Background probe loops, their budgets, and the results a scrape reads (never waiting on a probe)."""

from __future__ import annotations

import bisect
import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import Target
from .llm import OUTCOMES, Result, run

log = logging.getLogger("promspec.exporter.probe")

# Same bounds as the generator's probe catalog (compile/probes_project.py LLM_HISTOGRAMS).
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60)
ITL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5)
E2E_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120)
HOUR = 3600.0


@dataclass(kw_only=True)
class Histogram:
    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)  # per bucket, not cumulative; last is +Inf
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[int]:
        out: list[int] = []
        running = 0
        for c in self.counts:
            running += c
            out.append(running)
        return out


@dataclass(kw_only=True)
class TargetStats:
    """Everything exported for one target; guarded by ProbeSet's lock."""

    ttft: Histogram = field(default_factory=lambda: Histogram(bounds=TTFT_BUCKETS))
    itl: Histogram = field(default_factory=lambda: Histogram(bounds=ITL_BUCKETS))
    e2e: Histogram = field(default_factory=lambda: Histogram(bounds=E2E_BUCKETS))
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    skipped: int = 0
    tokens: int = 0
    last_time: float | None = None  # wall clock of the last finished probe
    last_outcome: str = ""


class Budget:
    """Requests and tokens spent in the last hour; a probe that would exceed either is skipped."""

    def __init__(self, target: Target):
        self.target = target
        self.spent: collections.deque[tuple[float, int]] = collections.deque()  # (monotonic time, tokens)

    def allows(self, now: float) -> bool:
        while self.spent and self.spent[0][0] <= now - HOUR:
            self.spent.popleft()
        tokens = sum(t for _, t in self.spent)
        return (
            len(self.spent) < self.target.budget.requests_per_hour
            and tokens + self.target.max_tokens <= self.target.budget.tokens_per_hour
        )

    def spend(self, now: float, tokens: int) -> None:
        # A probe is charged max_tokens at least: a server that ignores max_tokens still costs the budget.
        self.spent.append((now, max(tokens, self.target.max_tokens)))


class ProbeSet:
    """One daemon thread per target; stop() ends them between probes."""

    def __init__(self, targets: list[Target], runner: Callable[[Target], Result] = run):
        self.targets = targets
        self._runner = runner
        self._lock = threading.Lock()
        self._stats = {id(t): TargetStats() for t in targets}
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, args=(t,), name=f"probe-{t.name}", daemon=True) for t in targets
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()

    def record(self, target: Target, result: Result) -> None:
        with self._lock:
            s = self._stats[id(target)]
            s.outcomes[result.outcome] += 1
            s.tokens += result.tokens
            if result.ttft is not None:
                s.ttft.observe(result.ttft)
            for gap in result.gaps:
                s.itl.observe(gap)
            if result.e2e is not None and result.outcome == "ok":
                s.e2e.observe(result.e2e)
            s.last_time = time.time()
            s.last_outcome = result.outcome

    def probe_once(self, target: Target, budget: Budget) -> None:
        now = time.monotonic()
        if not budget.allows(now):
            with self._lock:
                self._stats[id(target)].skipped += 1
            return
        result = self._runner(target)
        budget.spend(now, result.tokens)
        if result.outcome != "ok":
            log.info("probe %s (%s): %s %s", target.name, target.url, result.outcome, result.detail)
        self.record(target, result)

    def _loop(self, target: Target) -> None:
        budget = Budget(target)
        # Spread first probes over the interval so targets sharing a server do not arrive together.
        index = self.targets.index(target)
        if self._stop.wait(target.interval * index / max(len(self.targets), 1)):
            return
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.probe_once(target, budget)
            except Exception:  # a bug in one probe must not end the loop or the exporter
                log.exception("probe %s failed unexpectedly", target.name)
            self._stop.wait(max(0.0, target.interval - (time.monotonic() - started)))

    def snapshot(self) -> list[tuple[Target, TargetStats]]:
        """[(target, copy of its stats)] for a scrape; copies so rendering happens outside the lock."""
        import copy

        with self._lock:
            return [(t, copy.deepcopy(self._stats[id(t)])) for t in self.targets]
