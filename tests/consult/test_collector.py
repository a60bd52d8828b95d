"""The garbage collector of a serving process (consult/collector.py): full collections that hold
the process too long are logged (``LOKET_GC_LOG_MS``); once it serves, no automatic full
collection walks its live connections, young garbage is still collected, and the scheduled full
collection frees the old cycles and says how many."""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from consult.collector import NEVER, Collector, watch_full_collections


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> tuple[list[_Node], weakref.ref[_Node]]:
    """A two-node cycle held by a list, and a weak reference to one node."""
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return [a], weakref.ref(a)


@pytest.fixture(autouse=True)
def python_rules() -> Iterator[None]:
    """The collector as Python sets it, and its callbacks, after each test (the collector calls
    the module's own callbacks list)."""
    threshold = gc.get_threshold()
    callbacks = list(gc.callbacks)
    yield
    gc.set_threshold(*threshold)
    gc.callbacks[:] = callbacks
    gc.collect()


def _churn() -> None:
    """Enough allocations of tracked objects for many automatic young collections, and for the
    automatic full collections Python's rules would start."""
    for _ in range(50):
        junk = [[] for _ in range(20_000)]
        del junk


def _scheduled(collector: Collector) -> list[tuple[float, Callable[[], None]]]:
    later: list[tuple[float, Callable[[], None]]] = []
    collector.start(lambda delay, fn: later.append((delay, fn)))
    return later


def test_an_old_cycle_waits_for_the_scheduled_collection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    collector = Collector(full_every=3600)
    later = _scheduled(collector)
    assert gc.get_threshold()[2] == NEVER
    # The first after a random 0.5 to 1.5 of the period (processes started together do not
    # pause together), then every period.
    assert len(later) == 1 and 1800 <= later[0][0] <= 5400
    holder, ref = _cycle()
    gc.collect(1)  # the cycle survives young collections: it is old now
    holder.clear()  # and garbage: only a full collection can free it
    _churn()
    assert ref() is not None
    with caplog.at_level(logging.INFO, logger="consult.collector"):
        _, turn = later.pop()
        turn()
    assert ref() is None
    assert "the scheduled full collection freed" in caplog.text
    assert [delay for delay, _ in later] == [3600]  # and the next one is scheduled


def test_young_cycles_are_still_collected_automatically() -> None:
    _scheduled(Collector(full_every=3600))
    holder, ref = _cycle()
    holder.clear()  # garbage while young
    _churn()
    assert ref() is None


def test_without_it_python_collects_the_old_cycle_on_its_own() -> None:
    """What the test above holds back is what Python's own rules do (the test can fail)."""
    later = _scheduled(Collector(full_every=0))
    assert later == [] and gc.get_threshold()[2] != NEVER
    gc.collect()
    holder, ref = _cycle()
    gc.collect(1)
    holder.clear()
    _churn()
    assert ref() is None


def test_where_the_threshold_does_not_take_python_s_rules_stay(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A free-threaded build (or 3.14.0 to 3.14.4) ignores the threshold: nothing is scheduled,
    the threshold is put back, and the process says so."""
    import sysconfig

    before = gc.get_threshold()
    monkeypatch.setattr(
        sysconfig, "get_config_var", lambda name: 1 if name == "Py_GIL_DISABLED" else None
    )
    with caplog.at_level(logging.WARNING, logger="consult.collector"):
        later = _scheduled(Collector(full_every=3600))
    assert later == [] and gc.get_threshold() == before
    assert "left to Python's rules" in caplog.text


def test_a_full_collection_over_the_threshold_is_logged_and_a_young_one_is_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch_full_collections(1e-9)
    with caplog.at_level(logging.INFO, logger="consult.collector"):
        gc.collect(0)
        assert "full garbage collection" not in caplog.text
        gc.collect(2)
        assert "a full garbage collection held the process for" in caplog.text
        caplog.clear()
        Collector(full_every=60).collect()  # logs its own, at INFO
    assert "full garbage collection held" not in caplog.text
    assert "the scheduled full collection freed" in caplog.text


def test_no_watch_at_zero() -> None:
    before: list[Any] = list(gc.callbacks)
    watch_full_collections(0)
    assert gc.callbacks == before
