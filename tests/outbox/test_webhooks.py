"""Standard Webhooks signing and the receivers' verification."""

from __future__ import annotations

import base64

import pytest

from outbox import webhooks
from outbox.webhooks import WebhookVerificationError, sign, verify

NOW = 1_700_000_000
BODY = b'{"type":"consent.changed","timestamp":"2023-11-14T22:13:20Z","data":{}}'


def test_the_published_test_vector() -> None:
    """The example of the Standard Webhooks specification signs to its published value."""
    assert webhooks.signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                              "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                              b'{"test": 2432232314}') == \
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_new_secrets_are_whsec_and_32_random_bytes() -> None:
    first, second = webhooks.new_secret(), webhooks.new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32


def test_a_signed_message_verifies_and_yields_its_id() -> None:
    secret = webhooks.new_secret()
    headers = sign(secret, "evt:client", NOW, BODY)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-timestamp"] == str(NOW)
    assert headers["webhook-signature"].startswith("v1,")
    assert verify(secret, headers, BODY, now=NOW) == "evt:client"
    # HTTP header names are case-insensitive.
    assert verify(secret, {k.title(): v for k, v in headers.items()}, BODY, now=NOW)


def test_a_wrong_secret_is_rejected() -> None:
    headers = sign(webhooks.new_secret(), "evt:client", NOW, BODY)
    with pytest.raises(WebhookVerificationError, match="no matching signature"):
        verify(webhooks.new_secret(), headers, BODY, now=NOW)


def test_a_changed_body_id_or_timestamp_is_rejected() -> None:
    secret = webhooks.new_secret()
    headers = sign(secret, "evt:client", NOW, BODY)
    with pytest.raises(WebhookVerificationError):
        verify(secret, headers, BODY.replace(b"consent", b"consEnt"), now=NOW)
    with pytest.raises(WebhookVerificationError):
        verify(secret, {**headers, "webhook-id": "evt:other"}, BODY, now=NOW)
    with pytest.raises(WebhookVerificationError):
        verify(secret, {**headers, "webhook-timestamp": str(NOW + 1)}, BODY, now=NOW)


def test_stale_and_future_timestamps_are_rejected() -> None:
    secret = webhooks.new_secret()
    assert verify(secret, sign(secret, "m", NOW - 300, BODY), BODY, now=NOW)
    assert verify(secret, sign(secret, "m", NOW + 300, BODY), BODY, now=NOW)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(secret, sign(secret, "m", NOW - 301, BODY), BODY, now=NOW)
    with pytest.raises(WebhookVerificationError, match="too new"):
        verify(secret, sign(secret, "m", NOW + 301, BODY), BODY, now=NOW)
    # A replay an hour later fails even with a valid signature; a wider tolerance admits it.
    old = sign(secret, "m", NOW - 3600, BODY)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(secret, old, BODY, now=NOW)
    assert verify(secret, old, BODY, now=NOW, tolerance=3601)


def test_missing_or_malformed_headers_are_rejected() -> None:
    secret = webhooks.new_secret()
    headers = sign(secret, "m", NOW, BODY)
    for name in headers:
        with pytest.raises(WebhookVerificationError, match=f"missing {name}"):
            verify(secret, {k: v for k, v in headers.items() if k != name}, BODY, now=NOW)
    with pytest.raises(WebhookVerificationError, match="invalid webhook-timestamp"):
        verify(secret, {**headers, "webhook-timestamp": "soon"}, BODY, now=NOW)
    unversioned = headers["webhook-signature"].replace("v1,", "v2,")
    with pytest.raises(WebhookVerificationError):
        verify(secret, {**headers, "webhook-signature": unversioned}, BODY, now=NOW)


def test_any_of_several_signatures_may_match_during_a_secret_rotation() -> None:
    old, new = webhooks.new_secret(), webhooks.new_secret()
    headers = sign(new, "m", NOW, BODY)
    both = f"{sign(old, 'm', NOW, BODY)['webhook-signature']} {headers['webhook-signature']}"
    assert verify(new, {**headers, "webhook-signature": both}, BODY, now=NOW) == "m"
    assert verify(old, {**headers, "webhook-signature": both}, BODY, now=NOW) == "m"


def test_malformed_secrets_and_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="base64"):
        webhooks.secret_key("whsec_not base64!")
    with pytest.raises(ValueError, match="24 to 64 bytes"):
        webhooks.secret_key("whsec_" + base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="webhook id"):
        sign(webhooks.new_secret(), "with space", NOW, BODY)
