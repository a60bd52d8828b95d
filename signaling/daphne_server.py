"""Daphne's server with its two periodic sweeps made proportional to what changed.

Daphne (4.2) keeps every connection in ``Server.connections`` and walks all of them on the
event loop twice over: ``application_checker`` every second (to reap finished applications and
forget closed connections) and ``timeout_checker`` every two seconds (each protocol's
``check_timeouts``: the WebSocket keep-alive ping, the connect and lifetime limits). With 10,000
sockets open each walk held the loop for tens of milliseconds at a time, and the two took 16 %
of the loop during a queue fan-out (a py-spy profile, docs/BENCHMARKS.md, seventh slice): every
frame waiting behind them waited that long.

``LoketServer`` keeps both duties and their timing:

* ``application_checker`` looks only at the connections something happened to since the last
  look (their application finished, or the client went away), and at those still waiting for
  their application to end after a disconnect (cancelled once ``application_close_timeout`` has
  passed, as Daphne does). A connection that is open and whose application runs needs nothing
  from the check, which is what Daphne's walk found for almost all of them.
* ``timeout_checker`` still calls ``check_timeouts`` of every connection every two seconds, in
  chunks of ``SWEEP_CHUNK`` with the loop free between them.

Its TCP ports also accept connections as ``EagerTCPServer``, which sends a WebSocket frame when
it is written instead of on the reactor's next turn (see the class).

It is used by the ``daphne`` command (``install``, called from ``config/asgi.py`` before Daphne
builds its server), so a deployment still starts ``daphne config.asgi:application``. It relies
on Daphne's ``connections`` entries (``application_instance``, ``disconnected``): the version
range in pyproject.toml is the one it was tested with (tests/signaling/test_daphne_server.py).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any

from daphne.server import Server
from twisted.internet import tcp

log = logging.getLogger(__name__)

# Connections whose ``check_timeouts`` one turn of the loop runs (about 1 ms of it).
SWEEP_CHUNK = 500
APPLICATION_CHECK_SECONDS = 1.0
TIMEOUT_CHECK_SECONDS = 2.0


def _reactor() -> Any:
    # Daphne installed the asyncio reactor when ``daphne.server`` was imported (above).
    from twisted.internet import reactor

    return reactor


class EagerTCPServer(tcp.Server):
    """A TCP connection that sends at once what is written while nothing waits to be sent.

    Twisted buffers every ``write`` and sends it on the reactor's next turn, registering the
    socket for writability and removing it again once written: two ``epoll_ctl`` calls and a
    loop turn per WebSocket frame (an open Twisted issue, #5303). In a queue fan-out that was
    a fifth of the event loop's time at 10,000 sockets (docs/BENCHMARKS.md, seventh slice).

    Only for connections with Nagle's algorithm off, which autobahn sets on every WebSocket
    (``tcpNoDelay``): there each frame goes out as its own segment anyway. An HTTP response
    (Nagle on) keeps Twisted's coalescing of its small writes. When something is already
    buffered, when the socket takes only part of the data or when it fails, Twisted's own
    path takes over (the rest buffered and sent in order; a lost connection noticed by its
    ``doWrite``, as before). It reads Twisted's buffer attributes: pinned in pyproject.toml.
    """

    eager = False

    def setTcpNoDelay(self, enabled: bool) -> None:
        super().setTcpNoDelay(enabled)
        self.eager = bool(enabled)

    def write(self, data: bytes) -> None:
        if (
            self.eager
            and data
            and self.connected
            and not self._writeDisconnected
            and not self._tempDataBuffer
            and self.offset == len(self.dataBuffer)
        ):
            sent = self.writeSomeData(data)
            if isinstance(sent, int) and sent > 0:
                if sent == len(data):
                    return
                data = data[sent:]
        super().write(data)


class LoketServer(Server):
    """See the module docstring."""

    # The server of this process, once built (what a test or a figure of the process reads).
    current: LoketServer | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Protocols to look at in the next application check.
        self.settling: set[Any] = set()
        LoketServer.current = self

    def listen_success(self, port: Any) -> None:
        # Before the reactor runs, so before any connection is accepted on the port.
        if isinstance(port, tcp.Port) and port.transport is tcp.Server:
            port.transport = EagerTCPServer
        super().listen_success(port)

    def protocol_disconnected(self, protocol: Any) -> None:
        super().protocol_disconnected(protocol)
        self.settling.add(protocol)

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        queue = super().create_application(protocol, scope)
        details = self.connections.get(protocol)
        instance = details.get("application_instance") if details else None
        if instance is not None:
            instance.add_done_callback(lambda _done: self.settling.add(protocol))
        return queue

    def application_checker(self) -> None:
        settling, self.settling = self.settling, set()
        now = time.time()
        for protocol in settling:
            if self._settle(protocol, now):
                self.settling.add(protocol)
        _reactor().callLater(APPLICATION_CHECK_SECONDS, self.application_checker)

    def _settle(self, protocol: Any, now: float) -> bool:
        """Daphne's rules for one connection; whether it needs another look later (it went
        away and its application has not ended yet)."""
        details = self.connections.get(protocol)
        if details is None:
            return False
        disconnected = details.get("disconnected")
        instance = details.get("application_instance")
        if (
            disconnected
            and instance is not None
            and not instance.done()
            and now - disconnected > self.application_close_timeout
        ):
            log.warning(
                "Application instance %r for connection %s took too long to shut down and was "
                "killed.",
                instance,
                repr(protocol),
            )
            instance.cancel()
        if instance is not None and instance.done():
            self._reap(protocol, instance, disconnected)
            del details["application_instance"]
            instance = None
        if instance is None and disconnected:
            del self.connections[protocol]
            return False
        # Still running after a disconnect: looked at again until it ends or is cancelled.
        return bool(disconnected)

    def _reap(self, protocol: Any, instance: asyncio.Future[Any], disconnected: Any) -> None:
        """An application that ended: its exception logged (and the client told, if still
        there), as Daphne does."""
        if instance.cancelled():
            return
        exception = instance.exception()
        if exception is None:
            return
        if isinstance(exception, KeyboardInterrupt):
            # The application asks the server to exit (Daphne's own rule).
            self.stop()
            return
        log.error("Exception inside application: %s", exception, exc_info=exception)
        if not disconnected:
            protocol.handle_exception(exception)

    def timeout_checker(self) -> None:
        self._sweep(list(self.connections), 0)

    def _sweep(self, protocols: list[Any], start: int) -> None:
        end = start + SWEEP_CHUNK
        for protocol in protocols[start:end]:
            if protocol in self.connections:
                protocol.check_timeouts()
        if end < len(protocols):
            _reactor().callLater(0, self._sweep, protocols, end)
        else:
            _reactor().callLater(TIMEOUT_CHECK_SECONDS, self.timeout_checker)


def install() -> None:
    """Have the ``daphne`` command build a ``LoketServer``. Import this module only where the
    ``daphne`` command runs the process (``config/asgi.py`` checks): importing Daphne's server
    installs Twisted's asyncio reactor."""
    cli = sys.modules.get("daphne.cli")
    if cli is not None and cli.CommandLineInterface.server_class is Server:
        cli.CommandLineInterface.server_class = LoketServer
