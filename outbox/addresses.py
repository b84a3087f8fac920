"""Where a webhook may point: host spellings refused at registration, and the addresses
the worker may connect to.

Resolvers read many spellings of an IPv4 address (``2130706433``, ``0x7f000001``,
``0177.0.0.1``, ``127.1``, ``0``; ideographic or fullwidth dots and digits after IDNA
mapping), so a host that a resolver would read as an IPv4 address must be written as one
in the usual dotted form, and an IPv6 literal in its compressed form without an embedded
IPv4 address or a zone; anything else is ``NON_CANONICAL_ADDRESS``. That is only a first
filter: what decides is the address the worker connects to, which must be public (or in
the operator's allowed networks) for every address a name resolves to
(:mod:`outbox.pinned_transport`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from outbox.errors import OutboxError

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
DOTTED_QUAD = re.compile(rf"{_OCTET}(\.{_OCTET}){{3}}")
# A last label a resolver (or a URL parser, per WHATWG) takes for a number.
NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+", re.IGNORECASE)
HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")
NAT64 = IPv6Network("64:ff9b::/96")  # the last 32 bits are an IPv4 address
LOCAL_NAT64 = IPv6Network("64:ff9b:1::/48")  # RFC 8215, not globally reachable


@dataclass(frozen=True)
class WebhookHost:
    name: str  # ASCII (IDNA)
    address: IPAddress | None  # when the host is an IP literal


def _non_canonical(what: str) -> OutboxError:
    return OutboxError("NON_CANONICAL_ADDRESS", f"write the webhook host {what}", field="url")


def webhook_host(host: str) -> WebhookHost:
    """The URL's host (as ``urlsplit`` gives it: lower case, no brackets), checked."""
    if ":" in host:  # an IPv6 literal
        try:
            v6 = IPv6Address(host)
        except ValueError:
            raise _non_canonical("as an IPv6 address without a zone, e.g. [2001:db8::1]") \
                from None
        if v6.scope_id is not None:
            raise _non_canonical("without a zone (%...)")
        if embedded_ipv4(v6) is not None:
            raise _non_canonical("as the IPv4 address itself, not inside an IPv6 address")
        if str(v6) != host:
            raise _non_canonical(f"in its compressed form [{v6}]")
        return WebhookHost(host, v6)
    try:
        name = host.encode("idna").decode("ascii").lower()  # maps fullwidth and 。 to ASCII
    except UnicodeError:
        raise OutboxError("INVALID_URL", "the webhook URL's host is not a valid host name",
                          field="url") from None
    labels = name.rstrip(".").split(".")
    if NUMERIC_LABEL.fullmatch(labels[-1]):  # a resolver would read an IPv4 address
        if name != host or not DOTTED_QUAD.fullmatch(host):
            raise _non_canonical("as a dotted IPv4 address of four decimal numbers without "
                                 "leading zeros (e.g. 192.0.2.10), or as a name")
        return WebhookHost(host, IPv4Address(host))
    if not HOST_NAME.fullmatch(name):
        raise OutboxError("INVALID_URL", "the webhook URL's host is not a valid host name",
                          field="url")
    return WebhookHost(name, None)


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    value = int(address)
    if address in NAT64 or (value >> 32 == 0 and value > 1):  # NAT64, or ::a.b.c.d
        return IPv4Address(value & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Globally reachable unicast, including what an IPv6 address embeds."""
    if isinstance(address, IPv6Address):
        if address in LOCAL_NAT64 or address.teredo is not None:
            return False
        inner = embedded_ipv4(address)
        if inner is not None and not is_public(inner):
            return False
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses, plus the networks the operator allows although they are not
    (``MEMBERVAULT_WEBHOOK_ALLOWED_NETWORKS``: receivers inside the network, a local
    receiver in development)."""

    allowed: tuple[Network, ...] = field(default=())

    @classmethod
    def parse(cls, networks: str) -> AddressPolicy:
        """Comma-separated networks (``10.1.2.0/24, 127.0.0.1``); ValueError if one is bad."""
        return cls(tuple(ipaddress.ip_network(n.strip(), strict=False)
                         for n in networks.split(",") if n.strip()))

    def permits(self, address: IPAddress) -> bool:
        return is_public(address) or any(
            address.version == network.version and address in network
            for network in self.allowed)


PUBLIC_ONLY = AddressPolicy()
