"""Delivering sign-in codes: a local mailbox file in development, SMTP in production.

Erasure purges what the service itself still holds of a member's mail (``forget``): the
development mailbox file keeps every message, so the erased addresses' messages are cut
out of it; the SMTP relay keeps nothing here (what it delivered is in the member's own
inbox, beyond the service).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import smtplib
import ssl
import threading
from collections import Counter
from collections.abc import Collection
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from vaultkernel.private_files import ensure_private

log = logging.getLogger("membervault.mailer")


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


class SentMail(Protocol):
    def forget(self, addresses: Collection[str]) -> Counter[str]:
        """Delete what is kept of the mail sent to these addresses; returns how many
        messages per address (lower case)."""
        ...


class MailService(Mailer, SentMail, Protocol):
    """A mailer whose kept mail an erasure can purge (both mailers below)."""


# Where a message of the mailbox file starts: "To: <address>", "Subject: <subject>", a
# blank line (the format of MailboxFileMailer.send).
MESSAGE_START = re.compile(r"(?=^To: [^\n]*\nSubject: [^\n]*\n\n)", re.MULTILINE)


class MailboxFileMailer:
    """Appends each message to a local mailbox file; the console says where, not to whom."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, to: str, subject: str, body: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ensure_private(self.path)
        with self._lock, self.path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # not while another process cuts messages out
            handle.write(f"To: {to}\nSubject: {subject}\n\n{body}\n\n")
        log.info("development mail written to %s (subject: %s)", self.path, subject)

    def forget(self, addresses: Collection[str]) -> Counter[str]:
        """Cut every message to these addresses out of the mailbox file, in place (the
        file stays the one other processes append to, locked meanwhile)."""
        wanted = {a.strip().lower() for a in addresses if a}
        removed: Counter[str] = Counter()
        if not wanted or not self.path.exists():
            return removed
        with self._lock, self.path.open("r+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            kept = []
            for message in MESSAGE_START.split(handle.read()):
                to = message[4:message.find("\n")].strip().lower() if message.startswith(
                    "To: ") else None
                if to in wanted:
                    removed[to] += 1
                else:
                    kept.append(message)
            if removed:
                handle.seek(0)
                handle.write("".join(kept))
                handle.truncate()
                handle.flush()
                os.fsync(handle.fileno())
        if removed:
            log.info("development mail of %d erased address(es) removed from %s",
                     len(removed), self.path)
        return removed


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

    def forget(self, addresses: Collection[str]) -> Counter[str]:
        """Nothing to forget: the relay keeps no copy here (delivered mail is in the
        member's own inbox)."""
        return Counter()
