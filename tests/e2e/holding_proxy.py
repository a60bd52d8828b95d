"""A loopback TCP proxy that can hold traffic: a dead link as a browser sees it.

Between a browser and Daphne, ``hold()`` stops forwarding in both directions without closing
anything, as a NAT that forgot the connection or a stalled mobile link does: no FIN, no RST, the
sockets stay open and what is written waits. Connections opened while holding are accepted and
held too. ``release()`` forwards again, what waited first. It runs its own event loop on a thread,
so a synchronous Playwright test can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator


class HoldingProxy:
    """Forwards 127.0.0.1:<port> to ``target_port`` on 127.0.0.1 until told to hold."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self._flowing: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._run, name="holding-proxy", daemon=True)
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._listen())
        self._ready.set()
        self.loop.run_forever()

    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        self._writers.update((client_w, server_w))
        await asyncio.gather(self._pump(client_r, server_w), self._pump(server_r, client_w))
        self._writers.difference_update((client_w, server_w))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        try:
            while True:
                # While held, at most this one chunk is read: the rest stays in the kernel's
                # buffers, as it would behind a stalled link.
                chunk = await reader.read(65536)
                await self._flowing.wait()
                if not chunk:
                    break
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _call(self, fn: object) -> None:
        done = threading.Event()

        def run() -> None:
            fn()  # type: ignore[operator]
            done.set()

        self.loop.call_soon_threadsafe(run)
        if not done.wait(10):
            raise RuntimeError("the proxy's loop did not answer")

    def hold(self) -> None:
        """Stop forwarding, in both directions, on every connection (new ones included)."""
        assert self._flowing is not None
        self._call(self._flowing.clear)

    def release(self) -> None:
        """Forward again; what was written meanwhile goes first."""
        assert self._flowing is not None
        self._call(self._flowing.set)

    def close(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            assert self._flowing is not None
            self._flowing.set()
            for writer in list(self._writers):
                with contextlib.suppress(Exception):
                    writer.close()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self.loop.close()


@contextlib.contextmanager
def holding_proxy(target_port: int) -> Iterator[HoldingProxy]:
    """A started proxy to ``target_port``, closed afterwards."""
    proxy = HoldingProxy(target_port)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()
