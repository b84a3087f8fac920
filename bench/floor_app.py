"""B5's floor: a raw ASGI app doing the work of one profile read and nothing else; and
that work itself (:class:`ProfileFloor`), which B11 calls in process.

Per request: read the JSON body, look the member up by the member number's blind index in
one SELECT joined with their consent (the same statement shape as the service), decide
(the purpose's rule, as ``consent.decisions.member_reason``), unwrap the data key and
decrypt three fields, append one hash-chained access-log entry (one autocommitted INSERT,
the chain's tail remembered; on a sequence conflict with another writer the tail is read
again and the insert retried, as ``audit.access_log`` does), answer with orjson. No token
verification, no routing, no middleware, no GraphQL. The request id is the caller's
``X-Request-ID`` when it is well formed (as the service does), and is echoed back.

Run: ``python -m bench.floor_app --url URL --kek-file FILE --port N [--workers 2]``
(uvicorn; with several workers each process has its own connection and chain tail).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
from typing import Any

import orjson

from bench.raw import Raw
from identity import member_number
from identity.encryption import MemberCrypto
from identity.keyring import load_keyring
from vaultkernel.clock import utcnow
from vaultkernel.database import create_db_engine
from vaultkernel.policy import Purpose

PURPOSE = "marketing.email"
PRINCIPAL = "client:email-marketing"
FIELDS = ("given_name", "family_name", "email")
NAMES = ("givenName", "familyName", "email")
REQUEST_ID = re.compile(rb"^[A-Za-z0-9._-]{8,64}$")  # as membervault.http accepts


class ProfileFloor:
    """``memberData(purpose, memberNumber) { givenName familyName email }`` by hand."""

    def __init__(self, raw: Raw, crypto: MemberCrypto, purpose: Purpose,
                 principal: str = PRINCIPAL):
        self.raw = raw
        self.crypto = crypto
        self.purpose = purpose
        self.principal = principal
        objection = ("LEFT JOIN objections o ON o.member_id = m.id AND o.purpose = ?"
                     if purpose.objectable else "")
        self.sql = raw.sql(
            "SELECT m.id, m.status, m.restricted_at, m.kek_version, m.wrapped_key, c.granted, "
            f"c.notice_version, {'o.purpose' if purpose.objectable else 'NULL'}, "
            "m.given_name, m.family_name, m.email FROM members m LEFT JOIN consents c ON "
            f"c.member_id = m.id AND c.purpose = ? {objection} "
            "WHERE m.member_number_index = ?")
        self.keys = (purpose.key, purpose.key) if purpose.objectable else (purpose.key,)

    def reason(self, row: Any) -> str | None:
        """``consent.decisions.member_reason`` for a member found."""
        purpose = self.purpose
        if row[1] == "erased":
            return "MEMBER_ERASED"
        if purpose.consent_based:
            if not row[5]:
                return "CONSENT_REQUIRED"
            if row[6] is None or not purpose.grant_is_current(row[6]):
                return "CONSENT_STALE"
        if row[2] is not None:
            return "PROCESSING_RESTRICTED"
        if purpose.objectable and row[7] is not None:
            return "OBJECTED"
        return None

    def lookup(self, number: str) -> tuple[Any, str | None, dict[str, Any]]:
        """The member's row (or ``None``), the decision's reason and the values."""
        normalised = member_number.normalise(number)
        digest = self.crypto.index.digest("member_number", normalised) \
            if normalised else b"\x00" * 32
        cursor = self.raw.cursor()
        cursor.execute(self.sql, (*self.keys, digest))
        row = cursor.fetchone()
        cursor.close()
        if not self.raw.autocommit:
            self.raw.rollback()
        values: dict[str, Any] = dict.fromkeys(NAMES)
        if row is None:
            return None, "CONSENT_REQUIRED", values
        reason = self.reason(row)
        if reason is None:
            cipher = self.crypto.cipher(self.raw.to_uuid(row[0]), row[3], row[4])
            for name, field, blob in zip(NAMES, FIELDS, row[8:11], strict=True):
                values[name] = cipher.decrypt(field, blob) if blob is not None else None
        return row, reason, values

    def answer(self, body: bytes, request_id: str) -> bytes:
        number = orjson.loads(body)["variables"]["n"]
        row, reason, values = self.lookup(number)
        # An unknown number names nobody, but is an entry all the same (as in the service).
        reads = [] if row is None else [
            (self.raw.to_uuid(row[0]), list(FIELDS) if reason is None else [],
             {} if reason is None else dict.fromkeys(FIELDS, reason))]
        self.raw.append_log(reads, principal=self.principal, purpose=self.purpose.key,
                            request_id=request_id, now=utcnow())
        return orjson.dumps({"data": {"memberData": values}})


class FloorApp:
    def __init__(self, url: str, kek_file: str):
        from membervault.services import load_member_policy

        keyring = load_keyring("", kek_file, production=False)
        engine = create_db_engine(url)
        self.floor = ProfileFloor(Raw(engine.dialect.name, engine, autocommit=True),
                                  MemberCrypto(keyring, keyring.derive),
                                  load_member_policy().purposes[PURPOSE])

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        given = dict(scope["headers"]).get(b"x-request-id", b"")
        request_id = given.decode() if REQUEST_ID.match(given) else secrets.token_hex(8)
        if scope["method"] == "GET":
            status, payload = 200, b'{"status":"ok"}'
        else:
            status, payload = 200, self.floor.answer(b"".join(chunks), request_id)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()),
                                (b"x-request-id", request_id.encode())]})
        await send({"type": "http.response.body", "body": payload})


def create() -> FloorApp:
    """The uvicorn factory (each worker process builds its own app)."""
    return FloorApp(os.environ["BENCH_FLOOR_URL"], os.environ["BENCH_FLOOR_KEK_FILE"])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--kek-file", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    os.environ["BENCH_FLOOR_URL"] = args.url
    os.environ["BENCH_FLOOR_KEK_FILE"] = args.kek_file
    uvicorn.run("bench.floor_app:create", factory=True, host="127.0.0.1", port=args.port,
                access_log=False, log_config=None, workers=args.workers)


if __name__ == "__main__":
    main()
