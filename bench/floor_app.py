"""B5's floor: a raw ASGI app doing the work of one profile read and nothing else.

Per request: read the JSON body, look the member up by the member number's blind index in
one SELECT joined with their consent (the same statement shape as the service), decide
(active, consented, not restricted), unwrap the data key and decrypt three fields, append
one hash-chained access-log entry in its own transaction, answer with orjson. No token
verification, no routing, no middleware, no GraphQL.

Run: ``python -m bench.floor_app --url URL --kek-file FILE --port N`` (uvicorn, one worker).
"""

from __future__ import annotations

import argparse
import secrets
from typing import Any

import orjson

from bench.raw import Raw
from identity import member_number
from identity.encryption import MemberCrypto
from identity.keyring import load_keyring
from vaultkernel.clock import utcnow
from vaultkernel.database import create_db_engine

PURPOSE = "marketing.email"
PRINCIPAL = "client:email-marketing"
FIELDS = ("given_name", "family_name", "email")
NAMES = ("givenName", "familyName", "email")


class FloorApp:
    def __init__(self, url: str, kek_file: str):
        keyring = load_keyring("", kek_file, production=False)
        self.crypto = MemberCrypto(keyring, keyring.derive)
        engine = create_db_engine(url)
        self.raw = Raw(engine.dialect.name, engine)
        self.sql = self.raw.sql(
            "SELECT m.id, m.status, m.restricted_at, m.kek_version, m.wrapped_key, c.granted, "
            "m.given_name, m.family_name, m.email FROM members m LEFT JOIN consents c ON "
            "c.member_id = m.id AND c.purpose = ? WHERE m.member_number_index = ?")

    def answer(self, body: bytes) -> bytes:
        number = orjson.loads(body)["variables"]["n"]
        normalised = member_number.normalise(number)
        digest = self.crypto.index.digest("member_number", normalised or "") \
            if normalised else b"\x00" * 32
        cursor = self.raw.cursor()
        cursor.execute(self.sql, (PURPOSE, digest))
        row = cursor.fetchone()
        cursor.close()
        self.raw.rollback()
        values: dict[str, Any] = dict.fromkeys(NAMES)
        if row is None:
            return orjson.dumps({"data": {"memberData": values}})
        permitted = row[1] == "active" and bool(row[5]) and row[2] is None
        if permitted:
            cipher = self.crypto.cipher(self.raw.to_uuid(row[0]), row[3], row[4])
            for name, field, blob in zip(NAMES, FIELDS, row[6:9], strict=True):
                values[name] = cipher.decrypt(field, blob) if blob is not None else None
        reason = None if permitted else "CONSENT_REQUIRED"
        self.raw.append_log([(self.raw.to_uuid(row[0]), list(FIELDS) if permitted else [],
                              {} if permitted else dict.fromkeys(FIELDS, reason))],
                            principal=PRINCIPAL, purpose=PURPOSE,
                            request_id=secrets.token_hex(8), now=utcnow())
        return orjson.dumps({"data": {"memberData": values}})

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
        if scope["method"] == "GET":
            status, payload = 200, b'{"status":"ok"}'
        else:
            status, payload = 200, self.answer(b"".join(chunks))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--kek-file", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(FloorApp(args.url, args.kek_file), host="127.0.0.1", port=args.port,
                access_log=False, log_config=None, workers=1)


if __name__ == "__main__":
    main()
