"""bench/scale.py queue: what it counts as right, and the bounds of its arguments (no server)."""

from __future__ import annotations

import pytest

from bench import scale
from bench.scale_queue import expected_positions, percentile


def test_positions_count_the_waiting_of_the_same_mode_in_the_same_topic() -> None:
    # (topic, pk, mode) in queue order, two topics interleaved, chats and videos mixed.
    rows = [(1, 10, "chat"), (1, 11, "video"), (1, 12, "chat"), (2, 13, "chat"), (1, 14, "video")]
    assert expected_positions(rows) == {10: 1, 11: 1, 12: 2, 13: 1, 14: 2}


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([7.0], 99) == 7


@pytest.mark.parametrize(
    "argv",
    [
        ["queue", "--waiting", "0"],
        ["queue", "--waiting", "1000", "--connected", "1001"],
        ["queue", "--waiting", "200000"],
        ["queue", "--topics", "0"],
        # Every topic must keep someone waiting through the offers and rounds.
        ["queue", "--waiting", "100", "--topics", "4"],
        # The fan-out alone needs connected applicants.
        ["fanout", "--connected", "0"],
    ],
)
def test_out_of_bounds_arguments_are_refused_before_anything_runs(argv: list[str]) -> None:
    assert scale.main(argv) == 2
