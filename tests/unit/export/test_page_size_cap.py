"""The run-wide page-size cap: halved after repeated 5xx, grown back after successes, never past a size that
has not worked in this run."""

from __future__ import annotations

from tenant_rag.export.http import PageSizeCap


def test_random_failures_shrink_the_size_and_successes_grow_it_back() -> None:
    cap = PageSizeCap(grow_after=3)
    assert cap.succeeded(10) is None and cap.value is None  # no cap yet: nothing to grow
    assert cap.failed(10) == 5 and cap.failed(5) == 2 and cap.failed(2) == 1
    assert cap.apply(10) == 1 and cap.apply(1) == 1
    grown = [cap.succeeded(cap.apply(10)) for _ in range(9)]
    assert grown == [None, None, 2, None, None, 4, None, None, 8]
    assert [cap.succeeded(cap.apply(10)) for _ in range(3)] == [None, None, 10]  # the size that worked before
    assert [cap.succeeded(cap.apply(10)) for _ in range(6)] == [None] * 6 and cap.apply(10) == 10


def test_a_size_that_never_worked_is_not_tried_again() -> None:
    cap = PageSizeCap(grow_after=2)
    assert cap.succeeded(1) is None  # a small request (the space lookup) before the listing
    assert cap.failed(50) == 25 and cap.failed(25) == 12 and cap.failed(12) == 6  # an overloaded site
    assert [cap.succeeded(cap.apply(50)) for _ in range(10)] == [None] * 10 and cap.value == 6


def test_smaller_requests_do_not_count_and_a_failure_restarts_the_count() -> None:
    cap = PageSizeCap(grow_after=2)
    cap.succeeded(20)
    assert cap.failed(20) == 10
    assert cap.succeeded(3) is None and cap.succeeded(3) is None  # below the cap: says nothing about it
    assert cap.succeeded(10) is None
    assert cap.failed(10) == 5  # halved again; the streak starts over
    assert cap.succeeded(5) is None and cap.succeeded(5) == 10 and cap.succeeded(10) is None
    assert cap.succeeded(10) == 20


def test_the_size_never_drops_below_the_minimum() -> None:
    cap = PageSizeCap(min_size=4, grow_after=1)
    assert cap.failed(6) == 4 and cap.failed(4) is None and cap.value == 4
