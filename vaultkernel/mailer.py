"""Delivering sign-in codes: a local mailbox file in development, SMTP in production."""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from vaultkernel.private_files import ensure_private

log = logging.getLogger("membervault.mailer")


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


class MailboxFileMailer:
    """Appends each message to a local mailbox file; the console says where, not to whom."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, to: str, subject: str, body: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ensure_private(self.path)
        with self._lock, self.path.open("a") as handle:
            handle.write(f"To: {to}\nSubject: {subject}\n\n{body}\n\n")
        log.info("development mail written to %s (subject: %s)", self.path, subject)


class SmtpMailer:
    def __init__(self, host: str, port: int, user: str, password: str, sender: str):
        self.host, self.port, self.user, self.password, self.sender = (
            host, port, user, password, sender)

    def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(message)
        log.info("sign-in mail handed to SMTP relay")
