"""Which clients receive events, and where: registering and removing a webhook."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from audit import trail
from identity.models import Client
from outbox import webhooks
from outbox.addresses import PUBLIC_ONLY, AddressPolicy, WebhookHost, webhook_host
from outbox.errors import OutboxError
from outbox.secrets import Derives, open_webhook_secret, seal_webhook_secret

MAX_URL = 500  # the column's length


def validate_url(url: str, *, production: bool,
                 addresses: AddressPolicy = PUBLIC_ONLY) -> str:
    """An absolute http(s) URL with a host written canonically and no credentials; https
    only, and a public host (or one in the allowed networks), in production."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError:
        raise OutboxError("INVALID_URL", "not a valid URL", field="url") from None
    allowed = ("https",) if production else ("http", "https")
    if parts.scheme not in allowed:
        raise OutboxError("INVALID_URL", "the webhook URL must use "
                          + (" or ".join(f"{s}://" for s in allowed)), field="url")
    if not parts.hostname:
        raise OutboxError("INVALID_URL", "the webhook URL needs a host", field="url")
    if parts.username is not None or parts.password is not None:
        raise OutboxError("INVALID_URL", "put no credentials in the webhook URL: requests are "
                          "signed instead", field="url")
    if parts.fragment:
        raise OutboxError("INVALID_URL", "the webhook URL must not have a fragment", field="url")
    if port == 0 or len(url) > MAX_URL or any(c.isspace() for c in url):
        raise OutboxError("INVALID_URL", f"not a valid URL of at most {MAX_URL} characters",
                          field="url")
    host = webhook_host(parts.hostname)
    if production and _internal(host, addresses):
        raise OutboxError("INTERNAL_ADDRESS", "the webhook URL must name a public host",
                          field="url")
    return url


def _internal(host: WebhookHost, addresses: AddressPolicy) -> bool:
    """A loopback, private, link-local (cloud metadata) or otherwise non-global address
    outside the allowed networks, or a name that only resolves inside a network."""
    if host.address is not None:
        return not addresses.permits(host.address)
    name = host.name.rstrip(".")
    return name == "localhost" or name.endswith((".localhost", ".internal", ".local"))


def _receiving_client(session: Session, client_id: str) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        raise OutboxError("NOT_FOUND", "no such client", field="client_id")
    if client.role != "client":
        raise OutboxError("NOT_A_CLIENT", "only client services receive events",
                          field="client_id")
    return client


def set_webhook(session: Session, keyring: Derives, client_id: str, url: str, *,
                production: bool, actor: str = "cli",
                addresses: AddressPolicy = PUBLIC_ONLY) -> str:
    """Register (or move) a client's webhook; returns a new signing secret, shown once.

    The secret is stored sealed; registering again replaces it, so the old one stops
    verifying at once."""
    client = _receiving_client(session, client_id)
    client.webhook_url = validate_url(url, production=production, addresses=addresses)
    secret = webhooks.new_secret()
    client.sealed_webhook_secret = seal_webhook_secret(keyring, client_id, secret)
    trail.record(session, actor, "client.webhook_set", client_id=client_id,
                 url=client.webhook_url)
    return secret


def remove_webhook(session: Session, client_id: str, *, actor: str = "cli") -> bool:
    """Stop delivering to a client; returns whether it had a webhook. Events already
    addressed to it stay (they turn dead when due, and can be replayed after a new
    registration); new events no longer name it as a recipient."""
    client = _receiving_client(session, client_id)
    had = client.webhook_url is not None
    client.webhook_url = None
    client.sealed_webhook_secret = None
    if had:
        trail.record(session, actor, "client.webhook_removed", client_id=client_id)
    return had


def signing_secret(keyring: Derives, client: Client) -> str | None:
    if client.sealed_webhook_secret is None:
        return None
    return open_webhook_secret(keyring, client.client_id, client.sealed_webhook_secret)
