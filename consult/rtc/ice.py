"""Which local addresses the server's own WebRTC peers (aiortc) offer as host candidates.

aioice offers every interface address except loopback and has no option to choose. An office
server usually has one address clients can reach (and test machines must keep media on loopback),
so ``LOKET_ICE_HOST_ADDRESSES`` names the addresses to offer; empty keeps aioice's own choice.
"""

from __future__ import annotations

from collections.abc import Sequence

import aioice.ice

_original = aioice.ice.get_host_addresses
_applied: tuple[str, ...] | None = None


def host_addresses_restrict(addresses: Sequence[str]) -> None:
    """Offer only ``addresses`` as host candidates from aiortc peers in this process."""
    global _applied
    chosen = tuple(a for a in addresses if a)
    if not chosen:
        aioice.ice.get_host_addresses = _original
        _applied = None
        return

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses
    _applied = chosen


def host_addresses_from_settings() -> None:
    """Apply ``LOKET_ICE_HOST_ADDRESSES`` (called when the app is ready)."""
    from django.conf import settings

    host_addresses_restrict(settings.LOKET["ICE_HOST_ADDRESSES"])
