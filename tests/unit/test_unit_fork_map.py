"""workers.fork_map: each process takes the next item no process took yet (a pipe of tickets), and the
results come back in index order whoever computed them."""

from __future__ import annotations

import os
import select
import types

import pytest

from promspec import workers


def _taken_in(n: int, jobs: int) -> list[tuple[int, int, int]]:
    """fork_map over n items: for each, its index, the process that took it and how many it took before."""
    count = {"taken": 0}

    def item(i: int) -> tuple[int, int, int]:
        count["taken"] += 1  # each process counts in its own copy
        return (i, os.getpid(), count["taken"])

    return workers.fork_map(item, n, jobs)


def _check(found: list[tuple[int, int, int]], n: int, jobs: int) -> None:
    assert [i for i, _pid, _seq in found] == list(range(n))  # each item once, in index order
    by_process: dict[int, list[tuple[int, int]]] = {}
    for i, pid, seq in found:
        by_process.setdefault(pid, []).append((seq, i))
    assert 1 <= len(by_process) <= jobs
    for taken in by_process.values():
        # A process takes its items in increasing order, one after the other: so the earliest failing item
        # is always reached (fork_map raises its error, as a loop would).
        assert [seq for seq, _i in taken] == list(range(1, len(taken) + 1))
        assert [i for _seq, i in sorted(taken)] == sorted(i for _seq, i in taken)


@pytest.mark.slow  # forks
@pytest.mark.parametrize(("n", "jobs"), [(1, 2), (2, 3), (134, 2), (1000, 3)])
def test_every_item_is_taken_once_in_order(n: int, jobs: int) -> None:
    _check(_taken_in(n, jobs), n, jobs)


def test_the_tickets_are_every_item_in_order() -> None:
    tickets = workers._tickets(1000)
    try:
        assert tickets.per == 1
        assert list(workers._taken(tickets)) == list(range(1000))
        assert list(workers._taken(tickets)) == []  # read to the end: every process stops
    finally:
        os.close(tickets.fd)


def test_a_pipe_too_small_for_a_ticket_per_item_holds_runs_of_items(monkeypatch) -> None:
    # Where the pipe cannot be enlarged (no F_SETPIPE_SZ), it holds PIPE_BUF bytes (4 KiB on Linux).
    monkeypatch.setattr(workers, "fcntl", types.SimpleNamespace())
    n = 5 * select.PIPE_BUF // 4 - 3  # a ticket for 5 items, the last for 2
    tickets = workers._tickets(n)
    try:
        assert tickets.per == 5
        assert list(workers._taken(tickets)) == list(range(n))
    finally:
        os.close(tickets.fd)


@pytest.mark.slow  # forks
def test_runs_of_items_are_dealt_as_single_ones(monkeypatch) -> None:
    monkeypatch.setattr(workers, "fcntl", types.SimpleNamespace())
    n = 5 * select.PIPE_BUF // 4 - 3
    _check(_taken_in(n, 3), n, 3)


@pytest.mark.slow  # forks
def test_the_earliest_failing_item_is_raised() -> None:
    def item(i: int) -> int:
        if i in (7, 40, 90):
            raise ValueError(f"item {i}")
        return i

    for jobs in (1, 2, 3):
        with pytest.raises(ValueError, match=r"^item 7$"):
            workers.fork_map(item, 100, jobs)
