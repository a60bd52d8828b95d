"""Process start-up (consult/runtime.py): the background loop and the pre-call checks' shutdown
are registered by the serving process (Daphne's reactor, or ASGI lifespan), never by a socket."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import ApplicationCommunicator

from config.asgi import application
from consult import runtime
from consult.collector import NEVER
from tests.support.applicants import join
from tests.support.sockets import applicant_ws
from tests.support.staff import make_topic


class _Reactor:
    """What ``serve`` uses of Twisted's reactor, recorded instead of run."""

    def __init__(self) -> None:
        self.when_running: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self.triggers: list[tuple[str, str, Callable[[], Any]]] = []
        self.later: list[tuple[float, Callable[[], Any]]] = []

    def callWhenRunning(self, fn: Callable[..., Any], *args: Any) -> None:
        self.when_running.append((fn, args))

    def addSystemEventTrigger(self, phase: str, event: str, fn: Callable[[], Any]) -> None:
        self.triggers.append((phase, event, fn))

    def callLater(self, delay: float, fn: Callable[[], Any]) -> None:
        self.later.append((delay, fn))


@pytest.fixture
def collector_state() -> Iterator[None]:
    """The garbage collector's thresholds and callbacks as they were, after the test (a serve
    switches the automatic full collections off and adds its log hook)."""
    threshold, callbacks = gc.get_threshold(), list(gc.callbacks)
    yield
    gc.set_threshold(*threshold)
    gc.callbacks[:] = callbacks


@pytest.fixture
def fresh_runtime(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A runtime that has not served yet, whose loops do no database work."""
    started = asyncio.Event()

    async def idle_loop() -> None:
        started.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(runtime, "_serving", False)
    monkeypatch.setattr(runtime, "_tasks", [])
    monkeypatch.setattr(runtime, "_renewing", False)
    monkeypatch.setattr(runtime, "_beat_loop", idle_loop)
    monkeypatch.setattr(runtime, "_sweep_loop", idle_loop)
    return started


def test_importing_the_application_without_a_reactor_starts_nothing(
    fresh_runtime: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.LOKET = {**settings.LOKET, "RUN_RUNTIME": True}
    monkeypatch.delitem(sys.modules, "twisted.internet.reactor", raising=False)
    runtime.serve(ready_message="ready")
    assert runtime._tasks == []


@pytest.mark.usefixtures("collector_state")
@pytest.mark.parametrize("run_runtime", [True, False])
def test_under_daphne_start_up_waits_for_the_reactor_and_registers_once(
    fresh_runtime: Any,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    capsys: pytest.CaptureFixture[str],
    run_runtime: bool,
) -> None:
    settings.LOKET = {**settings.LOKET, "RUN_RUNTIME": run_runtime, "GC_FULL_S": 45}
    reactor = _Reactor()
    monkeypatch.setitem(sys.modules, "twisted.internet.reactor", reactor)
    runtime.serve(ready_message="Loket is ready")
    runtime.serve(ready_message="Loket is ready")
    assert len(reactor.when_running) == 1
    assert reactor.triggers == [] and reactor.later == [] and runtime._tasks == []
    fn, args = reactor.when_running[0]
    fn(*args)
    assert capsys.readouterr().out == "Loket is ready\n"
    assert [(phase, event) for phase, event, _ in reactor.triggers] == [("before", "shutdown")]
    # No automatic full collection; the first scheduled one after 0.5 to 1.5 of GC_FULL_S
    # (consult/collector.py).
    assert gc.get_threshold()[2] == NEVER
    collector = [delay for delay, f in reactor.later if f is not runtime.ensure_started]
    assert len(collector) == 1 and 22.5 <= collector[0] <= 67.5
    assert ((0, runtime.ensure_started) in reactor.later) == run_runtime


async def test_asgi_lifespan_starts_and_stops_the_background_loop(
    fresh_runtime: asyncio.Event, settings: Any
) -> None:
    settings.LOKET = {**settings.LOKET, "RUN_RUNTIME": True}
    lifespan = ApplicationCommunicator(application, {"type": "lifespan"})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(5) == {"type": "lifespan.startup.complete"}
    await asyncio.wait_for(fresh_runtime.wait(), 5)
    assert len(runtime._tasks) == 2 and not any(t.done() for t in runtime._tasks)
    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert await lifespan.receive_output(5) == {"type": "lifespan.shutdown.complete"}
    assert runtime._tasks == []


@pytest.mark.django_db(transaction=True)
async def test_a_websocket_does_not_start_the_background_loop(
    fresh_runtime: Any, settings: Any
) -> None:
    settings.LOKET = {**settings.LOKET, "RUN_RUNTIME": True}
    await sync_to_async(make_topic)()
    applicant = await applicant_ws(await sync_to_async(join)())
    await applicant.recv_until("entry")
    assert runtime._tasks == []
    # The process holds a Connection row now: its heartbeat beats once the loop runs.
    assert runtime._renewing
    await applicant.close()
