"""The development mailbox forgets an erased member's mail (vaultkernel.mailer): every
message to the addresses, whatever their case, and nothing else; the SMTP mailer keeps
nothing to forget."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from vaultkernel.mailer import MailboxFileMailer, SmtpMailer


def test_forget_cuts_every_message_to_the_addresses_and_keeps_the_rest(
        tmp_path: Path) -> None:
    mailer = MailboxFileMailer(tmp_path / "mailbox.txt")
    mailer.send("ann@example.org", "Your sign-in code", "Your sign-in code is 111111.")
    mailer.send("bob@example.org", "Your sign-in code", "Your sign-in code is 222222.\n\n"
                "Paragraphs, and a line that says\nTo: nobody in particular")
    mailer.send("Ann@Example.org", "Your membership", "Still there?\n\nWe miss you.")
    mailer.send("cy@example.org", "Your sign-in code", "Your sign-in code is 333333.")

    assert mailer.forget(["ANN@example.org", "dee@example.org"]) == Counter(
        {"ann@example.org": 2})
    text = (tmp_path / "mailbox.txt").read_text()
    assert "ann@example.org" not in text.lower()
    assert "111111" not in text and "We miss you" not in text
    assert text == ("To: bob@example.org\nSubject: Your sign-in code\n\nYour sign-in code is "
                    "222222.\n\nParagraphs, and a line that says\nTo: nobody in particular"
                    "\n\nTo: cy@example.org\nSubject: Your sign-in code\n\nYour sign-in code "
                    "is 333333.\n\n")
    assert mailer.forget(["ann@example.org"]) == Counter()  # nothing left to forget
    mailer.send("dee@example.org", "Hello", "Appended after a purge.")
    assert (tmp_path / "mailbox.txt").read_text().endswith(
        "To: dee@example.org\nSubject: Hello\n\nAppended after a purge.\n\n")


def test_forgetting_without_a_mailbox_file_or_addresses_does_nothing(tmp_path: Path) -> None:
    mailer = MailboxFileMailer(tmp_path / "never-written.txt")
    assert mailer.forget(["ann@example.org"]) == Counter()
    assert mailer.forget([]) == Counter()
    assert not (tmp_path / "never-written.txt").exists()
    assert SmtpMailer("smtp.example.com", 587, "", "", "vault@example.com").forget(
        ["ann@example.org"]) == Counter()
