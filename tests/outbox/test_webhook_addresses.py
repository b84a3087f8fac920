"""Webhooks cannot be aimed inside the network (SSRF, issue 11 item 2).

The URL shapes that reached a loopback or metadata address are replayed twice: at
registration, where every non-canonical spelling of an IP address is refused
(``NON_CANONICAL_ADDRESS``), and at delivery, with each stored as if registered before
the check, against a real receiver on 127.0.0.1 that must never see a connection. At
delivery the worker resolves the host, refuses it if any address it resolves to is not
public (``REFUSED_ADDRESS``), and otherwise connects to the checked address itself, with
the name kept for ``Host``, SNI and the certificate.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from identity.models import Client
from membervault.cli import app as cli
from membervault.services import Services
from outbox.addresses import AddressPolicy, is_public, webhook_host
from outbox.delivery import deliver_due
from outbox.errors import OutboxError
from outbox.pinned_transport import PinnedTransport
from outbox.subscriptions import set_webhook, validate_url
from tests.certificates import certificate_for
from tests.conftest import Api
from tests.outbox.support import GRANT, MARKETING, Clock, Receiver, deliveries, ok, subscribe
from tests.outbox.support import running_receiver as receiver_on
from vaultkernel.settings import Settings

CLIENT = "email-marketing"
PARTNER = "hooks.partner.test"  # a name only the tests' resolvers know

# (host as written in the URL, what it is)
ISSUE_SHAPES = [
    ("2130706433", "127.0.0.1 as one decimal number"),
    ("0x7f000001", "127.0.0.1 as one hexadecimal number"),
    ("0x7f.0.0.1", "a hexadecimal part"),
    ("0177.0.0.1", "an octal part"),
    ("127.000.000.001", "leading zeros"),
    ("127.1", "127.0.0.1 shortened"),
    ("127.0.1", "127.0.0.1 shortened"),
    ("0", "0.0.0.0, which reaches the local host"),
    ("127。0。0。1", "ideographic full stops"),
    ("127．0．0．1", "fullwidth full stops"),
    ("127｡0｡0｡1", "halfwidth ideographic full stops"),
    ("１２７.０.０.１", "fullwidth digits"),
    ("2852039166", "169.254.169.254 (cloud metadata) as one decimal number"),
    ("0xa9fea9fe", "169.254.169.254 as one hexadecimal number"),
    ("169.254.43518", "169.254.169.254 shortened"),
    ("127.0.0.1.", "a trailing dot"),
    ("[::ffff:127.0.0.1]", "IPv4-mapped IPv6"),
    ("[::ffff:7f00:1]", "IPv4-mapped IPv6, in hexadecimal"),
    ("[::ffff:169.254.169.254]", "IPv4-mapped metadata address"),
    ("[::127.0.0.1]", "IPv4-compatible IPv6"),
    ("[64:ff9b::7f00:1]", "NAT64 of 127.0.0.1"),
    ("[2002:7f00:1::]", "6to4 of 127.0.0.1"),
    ("[0:0:0:0:0:0:0:1]", "::1 written out"),
    ("[fe80::1%25lo]", "a zone"),
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Nothing but public addresses, as in production (the other outbox tests allow the
    loopback network their receiver listens on)."""
    return dataclasses.replace(settings, webhook_allowed_networks="")


@pytest.fixture
def receiver(clock: Clock) -> Iterator[Receiver]:
    with receiver_on(clock) as rx:
        yield rx


# -- registration ------------------------------------------------------------------------


@pytest.mark.parametrize("production", [False, True], ids=["development", "production"])
@pytest.mark.parametrize(("host", "what"), ISSUE_SHAPES, ids=[h for h, _ in ISSUE_SHAPES])
def test_non_canonical_addresses_are_refused_at_registration(host: str, what: str,
                                                              production: bool) -> None:
    with pytest.raises(OutboxError) as refused:
        validate_url(f"https://{host}/hooks", production=production)
    assert refused.value.code == "NON_CANONICAL_ADDRESS", what
    assert refused.value.field == "url"


def test_the_command_line_names_the_code(services: Services, monkeypatch: pytest.MonkeyPatch,
                                         settings: Settings, tmp_path: Path) -> None:
    from tests.conftest import create_principal

    create_principal(services, CLIENT, purposes=(MARKETING,))
    monkeypatch.setenv("MEMBERVAULT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MEMBERVAULT_KEK_FILE", settings.kek_file)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["client", "webhook", CLIENT,
                                      "--url", "https://2130706433/hooks"])
    assert result.exit_code == 1
    assert "NON_CANONICAL_ADDRESS" in result.stderr
    assert "dotted IPv4 address" in " ".join(result.stderr.split())


@pytest.mark.parametrize("url", [
    "https://93.184.216.34/hooks", "https://[2606:4700:4700::1111]/hooks",
    "https://hooks.partner.example/membervault", "https://hooks.partner.example./h",
    "https://bücher.example/hooks", "https://h-1.example:8443/hooks"])
def test_canonical_public_hosts_are_accepted_in_production(url: str) -> None:
    assert validate_url(url, production=True) == url


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/h", "https://10.0.0.5/h", "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/h", "https://224.0.0.1/h", "https://[::1]/h", "https://[fd00::1]/h",
    "https://localhost/h", "https://ｌｏｃａｌｈｏｓｔ/h", "https://metadata.google.internal/x"])
def test_production_refuses_internal_hosts(url: str) -> None:
    with pytest.raises(OutboxError) as refused:
        validate_url(url, production=True)
    assert refused.value.code == "INTERNAL_ADDRESS"


def test_allowed_networks_admit_an_internal_receiver_in_production() -> None:
    inside = AddressPolicy.parse("10.1.0.0/16, 127.0.0.1")
    assert validate_url("https://10.1.2.3/h", production=True, addresses=inside)
    with pytest.raises(OutboxError):
        validate_url("https://10.2.0.1/h", production=True, addresses=inside)


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.216.34", True), ("2606:4700:4700::1111", True), ("127.0.0.1", False),
    ("0.0.0.0", False), ("169.254.169.254", False), ("10.0.0.1", False),  # noqa: S104
    ("100.64.0.1", False), ("224.0.0.251", False), ("255.255.255.255", False),
    ("::1", False), ("::", False), ("fe80::1", False), ("fd12::1", False),
    ("::ffff:127.0.0.1", False), ("::127.0.0.1", False), ("64:ff9b::7f00:1", False),
    ("64:ff9b::a9fe:a9fe", False), ("2002:7f00:1::1", False), ("2002:a9fe:a9fe::1", False),
    ("64:ff9b:1::1", False), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),
    ("ff02::1", False)])
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def test_a_host_name_is_checked_in_its_ascii_form() -> None:
    assert webhook_host("bücher.example").name == "xn--bcher-kva.example"
    assert webhook_host("ｌｏｃａｌｈｏｓｔ").name == "localhost"
    assert webhook_host("192.0.2.10").address == ipaddress.ip_address("192.0.2.10")
    with pytest.raises(OutboxError) as invalid:
        webhook_host("a..b")
    assert invalid.value.code == "INVALID_URL"


# -- delivery ----------------------------------------------------------------------------


def point_webhook_at(services: Services, url: str) -> None:
    """As if the URL had been registered before registration checked it."""
    with services.db.unit_of_work() as uow:
        uow.session.execute(update(Client).where(Client.client_id == CLIENT)
                            .values(webhook_url=url))
        uow.commit()


def one_event(services: Services, receiver: Receiver, jane_api: Api) -> None:
    subscribe(services, CLIENT, receiver)
    ok(jane_api, GRANT, {"p": MARKETING, "v": 1})


def outcome(services: Services) -> tuple[str, str | None, int]:
    [row] = [d for d in deliveries(services) if d.client_id == CLIENT]
    return row.state, row.last_status, row.attempts


def port_of(receiver: Receiver) -> int:
    return int(receiver.url.rsplit(":", 1)[1].split("/")[0])


DELIVERY_SHAPES = [h for h, _ in ISSUE_SHAPES] + ["localhost", "127.0.0.1", "[::1]"]


@pytest.mark.parametrize("host", DELIVERY_SHAPES)
def test_no_shape_reaches_a_local_server_at_delivery(
        host: str, services: Services, receiver: Receiver, jane_api: Api, marketing_api: Api,
        clock: Clock) -> None:
    one_event(services, receiver, jane_api)
    point_webhook_at(services, f"http://{host}:{port_of(receiver)}/hooks/membervault/{CLIENT}")
    deliver_due(services.db, services.courier, now=clock.now)  # the worker's own transport
    state, status, attempts = outcome(services)
    assert receiver.connections == 0 and receiver.requests == 0
    # Refused after resolving; or not a URL httpx sends to, or a host nothing resolves.
    assert status in {"REFUSED_ADDRESS", "InvalidURL", "ConnectError"}, status
    assert (state, attempts) == ("pending", 1)  # a failed attempt, retried later
    if host in ("2130706433", "0x7f000001", "127.1", "0", "127。0。0。1", "localhost",
                "[::ffff:127.0.0.1]", "127.0.0.1", "[::1]"):
        assert status == "REFUSED_ADDRESS"  # what the resolver would have taken to loopback


def resolver(answers: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize("answer", [["127.0.0.1"], ["93.184.216.34", "127.0.0.1"],
                                    ["169.254.169.254"], ["93.184.216.34", "::1"]],
                         ids=["loopback", "public-and-loopback", "metadata", "public-and-::1"])
def test_a_name_is_refused_if_any_address_it_resolves_to_is_internal(
        answer: list[str], services: Services, receiver: Receiver, jane_api: Api,
        marketing_api: Api, clock: Clock) -> None:
    one_event(services, receiver, jane_api)
    point_webhook_at(services, f"http://{PARTNER}:{port_of(receiver)}/hooks/membervault/{CLIENT}")
    resolve = resolver({PARTNER: answer})
    deliver_due(services.db, services.courier, now=clock.now,
                transport=PinnedTransport(services.courier.addresses, resolve=resolve))
    assert outcome(services)[1] == "REFUSED_ADDRESS"
    assert receiver.connections == 0
    assert resolve.calls == [PARTNER]  # type: ignore[attr-defined]


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(
        services: Services, receiver: Receiver, jane_api: Api, marketing_api: Api,
        clock: Clock) -> None:
    one_event(services, receiver, jane_api)
    url = f"http://{PARTNER}:{port_of(receiver)}/hooks/membervault/{CLIENT}"
    point_webhook_at(services, url)
    allowed = AddressPolicy.parse("127.0.0.1/32")
    deliver_due(services.db, services.courier, now=clock.now,
                transport=PinnedTransport(allowed, resolve=resolver({PARTNER: ["127.0.0.1"]})))
    assert outcome(services)[:2] == ("delivered", "HTTP 204")
    assert receiver.hosts == [f"{PARTNER}:{port_of(receiver)}"]
    assert len(receiver.accepted) == 1  # and the signature verified


# -- TLS: the name, not the address, is what the certificate and SNI are checked against --


def test_https_keeps_the_name_for_sni_and_the_certificate(
        services: Services, jane_api: Api, marketing_api: Api, clock: Clock,
        tmp_path: Path) -> None:
    authority = certificate_for(PARTNER, tmp_path)
    allowed = AddressPolicy.parse("127.0.0.1/32")
    with receiver_on(clock, tls=authority.server) as receiver:
        port = port_of(receiver)
        with services.db.unit_of_work() as uow:  # registered as production would
            receiver.secrets[CLIENT] = set_webhook(
                uow.session, services.keyring, CLIENT,
                f"https://{PARTNER}:{port}/hooks/membervault/{CLIENT}", production=True)
            uow.commit()
        ok(jane_api, GRANT, {"p": MARKETING, "v": 1})
        resolve = resolver({PARTNER: ["127.0.0.1"]})
        deliver_due(services.db, services.courier, now=clock.now,
                    transport=PinnedTransport(allowed, resolve=resolve, verify=authority.client))
    assert outcome(services)[:2] == ("delivered", "HTTP 204")
    assert authority.server_names == [PARTNER]
    assert receiver.hosts == [f"{PARTNER}:{port}"]
