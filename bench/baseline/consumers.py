"""The BASELINE consumer: join the group named by the URL, group_send every text frame."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer


class RelayConsumer(AsyncWebsocketConsumer):
    """Minimal chat relay, as in the Channels tutorial.

    Every member of the group receives each frame, the sender included (the sender's echo is
    drained and ignored by the harness), so this does the work a basic Channels chat does.
    """

    group: str = ""

    async def connect(self) -> None:
        room = self.scope["url_route"]["kwargs"]["room"]
        self.group = f"relay.{room}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            return
        await self.channel_layer.group_send(
            self.group, {"type": "relay.message", "text": text_data}
        )

    async def relay_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])
