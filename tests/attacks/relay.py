"""A mail relay on 127.0.0.1 that speaks enough SMTP for ``smtplib`` (EHLO, STARTTLS with a
certificate for ``localhost``, MAIL, RCPT) and refuses every recipient, naming the address
in its answer, as real relays do."""

from __future__ import annotations

import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RelayLog:
    refused: list[str] = field(default_factory=list)  # every RCPT address, as sent
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Session(socketserver.BaseRequestHandler):
    server: _Relay

    def handle(self) -> None:
        self.connection: Any = self.request
        self.reader = self.connection.makefile("rb")
        try:
            self.converse()
        finally:
            self.reader.close()
            if self.connection is not self.request:
                self.connection.close()

    def say(self, text: str) -> None:
        self.connection.sendall(text.encode() + b"\r\n")

    def converse(self) -> None:
        secure = False
        self.say("220 relay.test ESMTP")
        while line := self.reader.readline():
            command = line.decode(errors="replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.say("250 relay.test" if secure else "250-relay.test\r\n250 STARTTLS")
            elif verb == "STARTTLS" and not secure:
                self.say("220 go ahead")
                self.reader.close()
                self.connection = self.server.tls.wrap_socket(self.request, server_side=True)
                self.reader = self.connection.makefile("rb")
                secure = True
            elif verb == "RCPT":
                address = command.split(":", 1)[1].strip()
                with self.server.log.lock:
                    self.server.log.refused.append(address.strip("<>"))
                self.say(f"550 5.1.1 {address}: Recipient address rejected: User unknown")
            elif verb in ("MAIL", "RSET", "NOOP"):
                self.say("250 ok")
            elif verb == "QUIT":
                self.say("221 bye")
                return
            else:
                self.say("502 not implemented")


class _Relay(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext, log: RelayLog) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.tls, self.log = tls, log


@contextmanager
def refusing_relay(tls: ssl.SSLContext) -> Iterator[tuple[int, RelayLog]]:
    """The relay's port and what it refused, while the block runs."""
    log = RelayLog()
    relay = _Relay(tls, log)
    thread = threading.Thread(target=relay.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(relay.server_address[1]), log
    finally:
        relay.shutdown()
        relay.server_close()
        thread.join(timeout=5)
