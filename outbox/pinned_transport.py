"""The HTTP transport webhooks are POSTed through: it connects only to addresses the
:class:`~outbox.addresses.AddressPolicy` permits, checked at connect time.

The host is resolved once per connection; if *any* address it resolves to is not
permitted, nothing is connected (a name that answers with one public and one internal
address is refused). Otherwise the socket is opened to one of those very addresses, not to
the name again, so a DNS answer that changes between the check and the connection (DNS
rebinding) cannot move it. TLS still runs against the name: SNI, certificate verification
and the ``Host`` header are the URL's host. Proxies from the environment are never used
(a proxy would resolve the name itself).
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterable
from ipaddress import ip_address

import httpcore
import httpx

from outbox.addresses import AddressPolicy, IPAddress

Resolve = Callable[[str, int], list[str]]
SocketOption = (tuple[int, int, int] | tuple[int, int, bytes | bytearray]
                | tuple[int, int, None, int])  # httpcore's SOCKET_OPTION


class AddressRefused(Exception):
    """The host resolves to an address webhooks may not reach (``REFUSED_ADDRESS``)."""


def resolve_system(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for the host, in its order."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


class VettedConnections(httpcore.NetworkBackend):
    """httpcore's network backend, resolving and checking before connecting."""

    def __init__(self, policy: AddressPolicy, resolve: Resolve):
        self.policy = policy
        self.resolve = resolve
        self._sockets = httpcore.SyncBackend()

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        try:
            found = [ip_address(a) for a in self.resolve(host, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpcore.ConnectError(f"cannot resolve the host ({type(exc).__name__})") \
                from None
        if not found or not all(self.policy.permits(a) for a in found):
            raise AddressRefused("the webhook host resolves to an address it may not reach")
        return found

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[SocketOption] | None = None,
                    ) -> httpcore.NetworkStream:
        failure: Exception | None = None
        for address in self.addresses(host, port):
            try:
                return self._sockets.connect_tcp(str(address), port, timeout, local_address,
                                                 socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[SocketOption] | None = None,
                            ) -> httpcore.NetworkStream:
        raise AddressRefused("webhooks are not sent to local sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class PinnedTransport(httpx.HTTPTransport):
    """httpx's transport with a connection pool that connects through
    :class:`VettedConnections`. ``resolve`` and ``verify`` are for tests (a test resolver,
    a test certificate authority)."""

    def __init__(self, policy: AddressPolicy, *, resolve: Resolve = resolve_system,
                 verify: ssl.SSLContext | bool = True):
        super().__init__(verify=verify, trust_env=False)
        # httpx offers no way to give its pool a network backend: the same pool is built
        # again with one (and the first, never used, holds no connection).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            network_backend=VettedConnections(policy, resolve))
