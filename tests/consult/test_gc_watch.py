"""A serving process logs every full garbage collection that holds it too long
(consult/runtime.py, ``LOKET_GC_LOG_MS``): the pause no profile of the request path shows."""

from __future__ import annotations

import gc
import logging

import pytest

from consult import runtime


def test_a_full_collection_over_the_threshold_is_logged_and_a_young_one_is_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = list(gc.callbacks)
    runtime._watch_full_collections(1e-9)
    try:
        with caplog.at_level(logging.WARNING, logger="consult.runtime"):
            gc.collect(0)
            assert "full garbage collection" not in caplog.text
            gc.collect(2)
        assert "a full garbage collection held the process for" in caplog.text
    finally:
        gc.callbacks[:] = before


def test_no_watch_at_zero() -> None:
    before = list(gc.callbacks)
    runtime._watch_full_collections(0)
    assert gc.callbacks == before
