"""Adapter between ``bench/relay.py`` and the real Loket server (LOKET target).

TO BE WRITTEN BY THE LEAD. The harness imports this module and, when ``IMPLEMENTED`` is true,
starts Loket as ``daphne -b 127.0.0.1 -p PORT config.asgi:application`` from the repo root
(env DATABASE_URL, REDIS_URL, LOKET_SECRET_KEY=bench, LOKET_DEBUG=0; ``manage.py migrate`` is
run first when ``manage.py`` exists), waits for the port, then calls ``setup(base_url)``.
The same variables are also put in this process's ``os.environ``, so an adapter that needs the
ORM (e.g. to create a counselor account) can read them.

Interface
---------
``IMPLEMENTED: bool``
    Set to ``True`` once ``setup`` works; while ``False`` the harness skips LOKET with a note.

``async def setup(base_url: str) -> tuple[Send, Recv]``
    ``base_url`` is ``"http://127.0.0.1:PORT"``. Create whatever a conversation needs (an
    applicant session and a counselor session in the same consultation), open both WebSockets
    (``websockets.asyncio.client.connect(..., compression=None)``, to match the other targets)
    and return:

    * ``send(text)``: the *applicant* posts a chat message whose body is exactly ``text``;
      returns once the frame is written (do not wait for any acknowledgement).
    * ``recv()``: waits until the *counselor* receives the next chat message and returns its
      body text, unchanged. Frames that are not chat messages (presence, typing, the
      applicant's own echo, ...) must be skipped inside ``recv``/the adapter, never returned.
      The applicant's socket must keep being read (drained) so its buffers never fill.

    The harness puts a sequence number in ``text`` and checks order, loss and duplicates
    from what ``recv`` returns; it wraps every ``recv()`` in its own timeout.

``async def teardown() -> None``
    Close both sockets and cancel any background task. Called once, even after errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Send = Callable[[str], Awaitable[None]]
Recv = Callable[[], Awaitable[str]]

IMPLEMENTED = False


async def setup(base_url: str) -> tuple[Send, Recv]:
    raise NotImplementedError(
        "bench/loket_client.py is a stub: implement setup()/teardown() against the Loket "
        "chat protocol and set IMPLEMENTED = True"
    )


async def teardown() -> None:
    return None
