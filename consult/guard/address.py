"""The address of the client behind a request: the one place that decides it.

Behind a reverse proxy every request comes from the proxy's address; the client's is in
``X-Forwarded-For``, which anyone can also send. So the header is read only when the request
comes from an address in ``LOKET_TRUSTED_PROXIES``, and then from the right: each trusted proxy
appends the address it was connected from, so the rightmost hop that is not itself a trusted
proxy is the last one a trusted proxy vouches for, the client. Hops further left were written by
the client and are ignored.

Counters key on the address through ``client_key``, a keyed hash, so what is stored (the
rate-limit counters in the cache) cannot be turned back into an address.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_KEY_SALT = "loket.client-key"


def _parse(value: str) -> Address | None:
    value = value.strip()
    # A proxy may write an IPv6 hop in brackets (with a port), or an IPv4 one with its port.
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Address | None) -> bool:
    if address is None:
        return False
    proxies = settings.LOKET["TRUSTED_PROXIES"]
    return any(address.version == net.version and address in net for net in proxies)


def client_address_of(*, remote_addr: str, forwarded_for: str = "") -> str:
    """The client's address from the peer's address and its ``X-Forwarded-For`` header; ""
    when there is no address at all (a Unix socket without a proxy)."""
    peer = _parse(remote_addr)
    if peer is None:
        return ""
    if not _trusted(peer):
        return str(peer)
    hops = [hop for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            # Our proxy wrote something that is not an address ("unknown"): the client is not
            # known better than by the proxy that let it in.
            return str(peer)
        if not _trusted(address):
            return str(address)
    # No header, or every hop is one of our proxies: the request started inside.
    return str(_parse(hops[0]) or peer) if hops else str(peer)


def client_address(request: HttpRequest) -> str:
    """The address of the client that sent ``request`` (trusted-proxy aware)."""
    return client_address_of(
        remote_addr=request.META.get("REMOTE_ADDR", "") or "",
        forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR", "") or "",
    )


def client_key(value: str) -> str:
    """A keyed hash of an address or contact for counters: the same value gives the same key,
    and without the secret key the key does not give the value back."""
    return salted_hmac(_KEY_SALT, value, algorithm="sha256").hexdigest()[:32]
