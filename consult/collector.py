"""The garbage collector of a serving Daphne process: no automatic full collection while it
serves, one on a schedule.

CPython's cyclic collector walks every tracked object of the generations it collects, holding
the interpreter meanwhile: no socket of the process is served, no other thread runs Python
code. Young collections (generations 0 and 1) walk only what is new; a full one (generation 2)
walks everything. A process holding 10,000 WebSockets holds millions of objects that live as
long as their socket (Daphne's, Twisted's, autobahn's and Channels' state of each connection,
about 50 KB of it), and Python's rule (a full collection once the objects promoted since the
last one reach a quarter of those that survived it) started one every 14 s on average there,
1.3 s each (up to 1.8 s; 2 to 4 s every 7 to 25 s at 20,000 over two processes), freeing almost
nothing (docs/BENCHMARKS.md, "Connections at scale"). Freezing what survived every minute
(``gc.freeze``) was measured too, and is not enough: each socket's ping cycle replaces objects
that live about 20 s, so a quarter of the shrunken unfrozen set was promoted again within 5 s
and a full collection of 250 to 470 ms followed.

So a serving process switches Python's automatic full collections off (the generation-2
threshold at its maximum: young collections run as before and still free young cycles;
reference counting still frees everything released) and runs one full collection itself every
``LOKET_GC_FULL_S`` seconds (the first after a random 0.5 to 1.5 of that, so processes started
together do not pause together), which frees the cycles that reached the old generation
meanwhile (closing a connection leaves 53 objects in cycles, nearly all Twisted's, autobahn's
and Daphne's, measured) and logs what it freed and how long it held the process. What the
schedule trades: that one pause (1.9 s at 10,000 sockets, once an hour by default) against one
of 1 to 2 s every 14 s, and up to an hour's closed connections kept until it runs.

Where the threshold does not take (CPython 3.14.0 to 3.14.4, whose incremental collector ignores
it, and free-threaded builds, whose every collection is full), the process says so and leaves
Python's rules alone.
"""

from __future__ import annotations

import gc
import logging
import random
import sysconfig
import time
from typing import Any

log = logging.getLogger(__name__)

# The generation-2 threshold that no count of young collections reaches (CPython keeps it in a C
# int).
NEVER = 2**31 - 1

# Set while ``Collector.collect`` runs its full collection, which it logs itself.
_collecting = False


def watch_full_collections(threshold: float) -> None:
    """Log every full (generation 2) garbage collection that holds the process ``threshold``
    seconds or more (0: none): while it runs no socket of the process is served, and with many
    thousand connections it is the one pause no profile of the request path shows. The
    scheduled collection is left to its own log line."""
    if threshold <= 0:
        return
    started = [0.0]

    def watch(phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2 or _collecting:
            return
        if phase == "start":
            started[0] = time.perf_counter()
            return
        held = time.perf_counter() - started[0]
        if held >= threshold:
            log.warning(
                "a full garbage collection held the process for %.0f ms (%d objects freed)",
                held * 1000,
                info.get("collected", 0),
            )

    gc.callbacks.append(watch)


class Collector:
    """The policy; ``start`` schedules it with a Twisted reactor's (or any) ``callLater``."""

    def __init__(self, *, full_every: float) -> None:
        self.full_every = full_every

    @property
    def enabled(self) -> bool:
        return self.full_every > 0

    def collect(self) -> tuple[int, float]:
        """One full collection: (objects freed, seconds it held the process)."""
        global _collecting
        started = time.perf_counter()
        _collecting = True
        try:
            freed = gc.collect()
        finally:
            _collecting = False
        held = time.perf_counter() - started
        log.info(
            "garbage collector: the scheduled full collection freed %d objects in %.0f ms",
            freed,
            held * 1000,
        )
        return freed, held

    def start(self, call_later: Any) -> None:
        """Switch the automatic full collections off and collect every ``full_every`` seconds
        through ``call_later(delay, fn)``, the first after a random 0.5 to 1.5 of it."""
        if not self.enabled:
            return
        young, middle, old = gc.get_threshold()
        gc.set_threshold(young, middle, NEVER)
        if gc.get_threshold()[2] != NEVER or sysconfig.get_config_var("Py_GIL_DISABLED"):
            gc.set_threshold(young, middle, old)
            log.warning(
                "garbage collector: this Python's collector does not take the generation-2 "
                "threshold; left to Python's rules (LOKET_GC_FULL_S has no effect here)"
            )
            return
        log.info(
            "garbage collector: automatic full collections off; one every %g s", self.full_every
        )

        def turn() -> None:
            try:
                self.collect()
            finally:
                call_later(self.full_every, turn)

        call_later(self.full_every * random.uniform(0.5, 1.5), turn)  # noqa: S311 (a jitter)
