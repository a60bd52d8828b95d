"""Ties a staff WebSocket to the Django session that opened it: when the session ends (logout,
deactivated account, changed password, expiry) the socket is closed with 4401.

The session is re-checked (consult/services/sessions.py) when the server is told to (a
``loket.session_check`` event on the user's group, published after logout and account changes),
every ``SESSION_RECHECK`` seconds, and before a frame is handled when the last check is older than
``SESSION_FRAME_RECHECK`` seconds: at most one session query per frame window per socket, and a
lost channel-layer event delays the close by at most the periodic interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from django.conf import settings

from consult.events.groups import session_digest

from . import bridge, protocol

log = logging.getLogger(__name__)


class SessionGuard:
    """The session check of one staff connection (``consumer``)."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        session = consumer.scope.get("session")
        self.session_key: str | None = getattr(session, "session_key", None)
        self.digest = session_digest(self.session_key)
        self.user_id = int(consumer.scope["user"].pk)
        self.checked_at = time.monotonic()
        self.ended = False
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        """Begin the periodic re-check."""
        self._task = asyncio.get_running_loop().create_task(self._periodic())

    async def stop(self) -> None:
        """End the periodic re-check (the connection is going away)."""
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _periodic(self) -> None:
        interval = settings.LOKET["SESSION_RECHECK"]
        while not self.ended:
            await asyncio.sleep(interval)
            await self.check()

    async def check(self) -> bool:
        """Re-check the session now; close the connection if it has ended."""
        if self.ended:
            return False
        try:
            valid = await bridge.staff_session_valid(
                session_key=self.session_key, user_id=self.user_id
            )
        except Exception as exc:
            # The database is the one that cannot answer; every service this connection would
            # call needs it too. Keep the connection and ask again later rather than closing
            # every counselor's socket on a database blip. One line, no traceback.
            if not self._failing:
                log.warning("staff session re-check failed (%s); will retry", type(exc).__name__)
            self._failing = True
            return True
        self._failing = False
        self.checked_at = time.monotonic()
        if not valid:
            await self.end()
        return valid

    async def allows_frame(self) -> bool:
        """Whether a frame from the client may be handled (re-checks a stale session first)."""
        if self.ended:
            return False
        if time.monotonic() - self.checked_at < settings.LOKET["SESSION_FRAME_RECHECK"]:
            return True
        return await self.check()

    async def on_event(self, event: dict[str, Any]) -> None:
        """A ``loket.session_check`` event for this connection's user."""
        if self.digest is not None and event.get("revoked_session") == self.digest:
            await self.end()
            return
        await self.check()

    async def end(self) -> None:
        """Close the connection as unauthenticated (the page sends the user to log in)."""
        if self.ended:
            return
        self.ended = True
        await self.consumer.close(code=protocol.CLOSE_UNAUTHENTICATED)
