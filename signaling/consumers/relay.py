"""The relay: frames passed from one side of a consultation to the other, never stored.

``typing`` and the WebRTC signaling (``rtc.offer``, ``rtc.answer``, ``rtc.ice``,
``rtc.hangup``) go to the consultation's group, skipping the sender; each ``rtc.*`` frame is
re-checked against the database first (only the two participants of an active consultation).
The call's control frames (``call.*``) go to the call service, which decides.

A mixin: it holds no state and needs of its consumer only what it declares for type checking
(the consultations it follows, its role, its channel, ``resolve`` and ``ack``), so any host
that has those can carry it.

Imports: ``consult.events``, ``signaling.bridge`` and ``signaling.protocol``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consult.events import publish
from consult.events.frames import Entry, RtcDescriptionFrame, RtcHangupFrame, RtcIceFrame

from .. import bridge, protocol

if TYPE_CHECKING:
    from .delivery import Followed

# Each ``call.*`` frame runs the call service of the same action, through the bridge.
CALL_ACTIONS: dict[str, Any] = {
    "call.start": bridge.call_start,
    "call.request": bridge.call_request,
    "call.accept": bridge.call_accept,
    "call.decline": bridge.call_decline,
    "call.state": bridge.call_state_report,
    "call.end": bridge.call_end,
}


class RtcRelay:
    """Handlers of ``typing``, ``rtc.*`` and ``call.*`` for a consumer."""

    if TYPE_CHECKING:
        # What the consumer provides (signaling.consumers.delivery.OrderedDelivery).
        role: str
        channel_name: str
        followed: dict[int, Followed]

        def resolve(self, ref: str | None) -> int: ...

        async def ack(
            self, request_id: str | None, *, entry: Entry | None = None, duplicate: bool = False
        ) -> None: ...

    async def on_typing(self, message: protocol.Typing) -> None:
        consultation_id = self.resolve(message.consultation_id)
        followed = self.followed[consultation_id]
        await publish.typing_changed(
            consultation_id=consultation_id,
            public_id=followed.public_id,
            role=self.role,
            active=message.active,
            sender_channel=self.channel_name,
        )

    async def relay_rtc(
        self,
        message: Any,
        model: type[RtcDescriptionFrame | RtcIceFrame | RtcHangupFrame],
        **fields: Any,
    ) -> None:
        consultation_id = self.resolve(message.consultation_id)
        await bridge.rtc_participant_check(
            consultation_id=consultation_id, role=self.role, staff=getattr(self, "staff", None)
        )
        followed = self.followed[consultation_id]
        frame = model(
            type=message.type, consultation_id=followed.public_id, from_role=self.role, **fields
        )
        await publish.rtc_relayed(
            frame, consultation_id=consultation_id, sender_channel=self.channel_name
        )

    async def on_rtc_offer(self, message: protocol.RtcDescription) -> None:
        await self.relay_rtc(message, RtcDescriptionFrame, sdp=message.sdp)

    on_rtc_answer = on_rtc_offer

    async def on_rtc_ice(self, message: protocol.RtcIce) -> None:
        await self.relay_rtc(message, RtcIceFrame, candidate=message.candidate)

    async def on_rtc_hangup(self, message: protocol.RtcHangup) -> None:
        await self.relay_rtc(message, RtcHangupFrame)

    async def call_change(self, message: Any, **fields: Any) -> None:
        """``call.*``: the call service decides (only the two participants, active only)."""
        await CALL_ACTIONS[message.type](
            consultation_id=self.resolve(message.consultation_id),
            by_role=self.role,
            staff=getattr(self, "staff", None),
            **fields,
        )
        await self.ack(message.id)

    async def on_call_start(self, message: protocol.CallStart) -> None:
        await self.call_change(message, audio_only=message.audio_only)

    async def on_call_request(self, message: protocol.CallRequest) -> None:
        await self.call_change(message, audio_only=message.audio_only)

    async def on_call_accept(self, message: protocol.CallAccept) -> None:
        await self.call_change(message, audio_only=message.audio_only)

    async def on_call_decline(self, message: protocol.CallDecline) -> None:
        await self.call_change(message)

    async def on_call_state(self, message: protocol.CallStateReport) -> None:
        await self.call_change(message, state=message.state, audio_only=message.audio_only)

    async def on_call_end(self, message: protocol.CallEnd) -> None:
        await self.call_change(message)
