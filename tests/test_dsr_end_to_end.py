"""What issue 4 must show, end to end: the API, the worker, signed webhooks, downloads."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from joserfc import jws
from joserfc.jwk import KeySet

from membervault import worker
from tests.conftest import Api, client_token, create_principal, member_token, register
from tests.outbox.support import LOOPBACK, Clock, running_receiver, subscribe
from vaultkernel.settings import Settings

OPEN = """mutation($input: OpenRequestInput!) { openMyRequest(input: $input) {
  request { id state } errors { code } } }"""
MY_REQUESTS = "{ myRequests { items { id type state exportDownload { url expiresAt } } } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The webhook receiver listens on loopback, which must be allowed explicitly."""
    return dataclasses.replace(settings, webhook_allowed_networks=LOOPBACK)


def run_worker(services: Any, clock: Clock, passes: int = 1) -> None:
    for _ in range(passes):
        worker.run_once(services, now=lambda: clock.now)


def test_export_through_the_api_and_the_worker(http: Any, services: Any, settings: Any,
                                               loyalty_api: Api, jane: dict[str, Any],
                                               jane_api: Api) -> None:
    jane_api.graphql("mutation { grantConsent(purpose: \"marketing.email\", noticeVersion: 1) "
                     "{ errors { code } } }")
    opened = jane_api.graphql(OPEN, {"input": {"type": "ACCESS"}})["data"]["openMyRequest"]
    assert opened["request"]["state"] == "IN_PROGRESS"
    run_worker(services, Clock())
    mine = jane_api.graphql(MY_REQUESTS)["data"]["myRequests"]["items"][0]
    assert mine["state"] == "COMPLETED"
    url = mine["exportDownload"]["url"]
    path = "/" + url.split("/", 3)[3]
    auth = {"authorization": f"Bearer {jane_api.token}"}
    archive = http.get(path, headers=auth)
    assert archive.status_code == 200
    # the detached signature verifies with the published keys and names this archive
    signature = http.get(path + "/signature", headers=auth).text
    keys = KeySet.import_key_set(http.get("/.well-known/jwks.json").json())
    claims = json.loads(jws.deserialize_compact(signature, keys, algorithms=["ES256"]).payload)
    assert claims["sha256"] == hashlib.sha256(archive.content).hexdigest()
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
        member = json.loads(zf.read("member.json"))
        schema = json.loads(zf.read("member.schema.json"))
    published = json.loads(Path("docs/export-schema.json").read_text())
    assert schema == published
    jsonschema.validate(member, published)
    text = json.dumps(member)
    for value in ("janelle.qv@example.org", "Quasimodo-Varga", "+447911123456", "1990-02-03",
                  "Rosewood", "marketing.email"):
        assert value in text
    # another member's sign-in does not open it, nor does no sign-in at all
    assert register(loyalty_api, email="other@example.org", phone="07400 123409")["errors"] == []
    other = member_token(http, Path(settings.mailbox_file), "other@example.org")
    assert http.get(path, headers={"authorization": f"Bearer {other}"}).status_code == 404
    assert http.get(path).status_code == 401


def test_erasure_through_the_api_webhooks_and_acknowledgements(
        http: Any, services: Any, settings: Any, jane: dict[str, Any], jane_api: Api) -> None:
    clock = Clock()
    with running_receiver(clock) as receiver:
        partner = Api(http, client_token(http, "partner-brand", create_principal(
            services, "partner-brand", purposes=("partners.sharing",))))
        subscribe(services, "loyalty-engine", receiver)
        subscribe(services, "partner-brand", receiver)
        jane_api.graphql("mutation { grantConsent(purpose: \"partners.sharing\", "
                         "noticeVersion: 1) { errors { code } } }")
        receiver.failures = ["500", "drop", "500"]  # one receiver is down for a while
        opened = jane_api.graphql(OPEN, {"input": {"type": "ERASURE"}})
        request_id = opened["data"]["openMyRequest"]["request"]["id"]
        for _ in range(12):
            run_worker(services, clock)
            clock.advance(3600)
        erased = {r.body["data"]["memberNumber"]: r for r in receiver.unique().values()
                  if r.body["type"] == "member.erased"}
        assert list(erased) == [jane["memberNumber"]] * 1
        assert len({r.webhook_id for r in receiver.unique().values()
                    if r.body["type"] == "member.erased"}) == 2  # both recipients
        officer = Api(http, client_token(http, "officer-e", create_principal(
            services, "officer-e", "officer")))
        pending = officer.graphql(
            "query($id: ID!) { pendingAcknowledgements(requestId: $id) { clientId } }",
            {"id": request_id})["data"]["pendingAcknowledgements"]
        assert sorted(p["clientId"] for p in pending) == ["loyalty-engine", "partner-brand"]
        event_id = next(iter(erased.values())).body["data"]["eventId"]
        loyalty = Api(http, client_token(http, "loyalty-engine", create_principal(
            services, "loyalty-engine", purposes=("loyalty.membership",))))
        for api in (loyalty, partner):
            ack = api.graphql("mutation($e: ID!) { acknowledgeEvent(eventId: $e) { errors { code } } }",
                              {"e": event_id})
            assert ack["data"]["acknowledgeEvent"]["errors"] == []
        run_worker(services, clock)
        cert = officer.graphql("query($id: ID!) { erasureCertificate(requestId: $id) { jws } }",
                               {"id": request_id})["data"]["erasureCertificate"]
    keys = KeySet.import_key_set(http.get("/.well-known/jwks.json").json())
    document = json.loads(jws.deserialize_compact(cert["jws"], keys, algorithms=["ES256"]).payload)
    assert [r["clientId"] for r in document["recipients"]] == ["loyalty-engine", "partner-brand"]
    assert all(r["acknowledgedAt"] for r in document["recipients"])
    states = officer.graphql("query($m: ID!) { requests(memberId: $m) { items { state } } }",
                             {"m": jane["id"]})
    assert states["data"]["requests"]["items"] == [{"state": "COMPLETED"}]
