"""The retention sweeper (design rule 8): every rule, in bounded batches, set-based.

Each rule finds its candidates with one SQL query (members under legal hold excluded and
counted), then works through them a batch at a time, one transaction per batch, with
set-based statements. A batch that commits is done; a batch interrupted by a crash is
rolled back and simply found again by the next run, so a sweep is idempotent and resumes
where it stopped. A dry run runs the same candidate queries and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from audit import member_index, trail
from audit.models import (
    AccessLogCheckpoint,
    AccessLogEntry,
    AccessLogIndexState,
    AccessLogMember,
    AuditEvent,
)
from consent.models import Consent, ConsentRecord
from export.models import ExportArchive
from identity.errors import KeyringError
from identity.languages import preferred_language
from identity.models import Member, SignInCode
from outbox.models import Delivery, OutboxEvent
from retention.models import LegalHold
from retention.shredding import ErasureCause, ErasureKit, checkpoint_wal, erase_members
from vaultkernel import languages
from vaultkernel.database import Database
from vaultkernel.languages import N_
from vaultkernel.mailer import Mailer
from vaultkernel.retention_rules import CATEGORY, CONSENT_WITHDRAWN, KINDS, RetentionRule
from vaultkernel.sealing import TamperedCiphertext

ACTOR = "system:retention"
log = logging.getLogger("membervault.retention")
Progress = Callable[[str, int, int], None]


@dataclass
class RuleOutcome:
    rule: str
    action: str
    affected: int = 0
    skipped_held: int = 0
    keys: list[str] | None = None


@dataclass
class SweepReport:
    dry_run: bool
    at: dt.datetime
    outcomes: list[RuleOutcome] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {o.rule: o.affected for o in self.outcomes}


def held_members(now: dt.datetime) -> Select[Any]:
    """Members under an active legal hold: skipped by every rule."""
    return select(LegalHold.member_id).where(
        LegalHold.lifted_at.is_(None),
        or_(LegalHold.expires_at.is_(None), LegalHold.expires_at > now))


class Handler:
    """One kind of rule: which rows are due, and what to do to a batch of them."""

    key_column: tuple[Any]  # the column identifying a row (in a tuple: it is a descriptor)

    def __init__(self, rule: RetentionRule, kit: ErasureKit, mailer: Mailer):
        self.rule = rule
        self.kit = kit
        self.mailer = mailer

    @property
    def key(self) -> Any:
        return type(self).key_column[0]

    def due(self, now: dt.datetime) -> list[Any]:
        """Conditions for rows past their retention, held or not."""
        raise NotImplementedError

    def member_column(self) -> Any | None:
        return None

    def candidates(self, now: dt.datetime) -> Select[Any]:
        query = select(self.key).where(*self.due(now))
        column = self.member_column()
        if column is not None:
            query = query.where(column.not_in(held_members(now)))
        return query.order_by(self.key)

    def held(self, session: Session, now: dt.datetime) -> int:
        column = self.member_column()
        if column is None:
            return 0
        query = select(func.count()).select_from(self.key.table).where(
            *self.due(now), column.in_(held_members(now)))
        return int(session.scalar(query) or 0)

    def batch(self, session: Session, now: dt.datetime, after: Any,
              size: int) -> tuple[list[Any], Any]:
        """The next batch of keys, and where the batch after it starts (``after`` is
        ``None`` for the first): in key order, each batch after the last key of the one
        before (a keyset), so the sweep reads each candidate once however many batches
        there are, and a row its batch left a candidate is not met again."""
        query = self.candidates(now)
        if after is not None:
            query = query.where(self.key > after)
        keys = list(session.scalars(query.limit(size)))
        return keys, (keys[-1] if keys else None)

    def apply(self, session: Session, keys: Sequence[Any], now: dt.datetime) -> None:
        raise NotImplementedError

    def after_commit(self) -> None:
        """Side effects outside the database, run once the batch has committed."""


class DeleteRows(Handler):
    def apply(self, session: Session, keys: Sequence[Any], now: dt.datetime) -> None:
        session.execute(delete(self.key.table).where(self.key.in_(keys)))


class SignInCodes(DeleteRows):
    key_column = (SignInCode.id,)

    def due(self, now: dt.datetime) -> list[Any]:
        return [SignInCode.created_at < self.rule.after.before(now)]


class ConsentProof(DeleteRows):
    key_column = (ConsentRecord.id,)

    def due(self, now: dt.datetime) -> list[Any]:
        erased = select(Member.id).where(Member.status == "erased",
                                         Member.erased_at < self.rule.after.before(now))
        return [ConsentRecord.member_id.in_(erased)]

    def member_column(self) -> Any:
        return ConsentRecord.member_id


class ExportArchives(Handler):
    key_column = (ExportArchive.id,)

    def due(self, now: dt.datetime) -> list[Any]:
        return [ExportArchive.created_at < self.rule.after.before(now)]

    def member_column(self) -> Any:
        return ExportArchive.member_id

    def apply(self, session: Session, keys: Sequence[Any], now: dt.datetime) -> None:
        base = self.kit.export_dir
        for path in session.scalars(select(ExportArchive.path).where(ExportArchive.id.in_(keys))):
            (Path(path) if Path(path).is_absolute() else base / path).unlink(missing_ok=True)
        session.execute(delete(ExportArchive).where(ExportArchive.id.in_(keys)))


class DeliveredEvents(DeleteRows):
    key_column = (OutboxEvent.id,)

    def due(self, now: dt.datetime) -> list[Any]:
        cutoff = self.rule.after.before(now)
        unfinished = exists().where(
            Delivery.event_id == OutboxEvent.id,
            or_(Delivery.state != "delivered",
                and_(OutboxEvent.type == "member.erased", Delivery.acknowledged_at.is_(None))))
        recent = exists().where(Delivery.event_id == OutboxEvent.id,
                                Delivery.delivered_at >= cutoff)
        # An erasure request's event stays: its certificate lists who acknowledged when
        # (its sealed member number is already dropped once all have acknowledged).
        return [~unfinished, ~recent, OutboxEvent.created_at < cutoff,
                OutboxEvent.request_id.is_(None)]

    def apply(self, session: Session, keys: Sequence[Any], now: dt.datetime) -> None:
        session.execute(delete(Delivery).where(Delivery.event_id.in_(keys)))
        session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(keys)))


class CategoryWithoutConsent(Handler):
    """Deletes a category's values (and their blind indexes) once consent to the purpose
    that needed them has been withdrawn for long enough."""

    key_column = (Member.id,)

    @property
    def columns(self) -> list[str]:
        attributes = self.kit.policy.categories[self.rule.applies_to].attributes
        return [*attributes, *(f"{a}_index" for a in attributes if hasattr(Member, f"{a}_index"))]

    def due(self, now: dt.datetime) -> list[Any]:
        attributes = self.kit.policy.categories[self.rule.applies_to].attributes
        withdrawn = select(Consent.member_id).where(
            Consent.purpose == self.rule.withdrawn_purpose, Consent.granted.is_(False),
            Consent.updated_at < self.rule.after.before(now))
        return [Member.status == "active",
                or_(*(getattr(Member, a).is_not(None) for a in attributes)),
                Member.id.in_(withdrawn)]

    def member_column(self) -> Any:
        return Member.id

    def apply(self, session: Session, keys: Sequence[Any], now: dt.datetime) -> None:
        session.execute(update(Member).where(Member.id.in_(keys))
                        .values(**dict.fromkeys(self.columns), updated_at=now)
                        .execution_options(synchronize_session=False))


class AccessLogPrefix(Handler):
    """Old entries go from the front of the chain only (so it stays verifiable), and the
    prefix stops before the first entry naming a member under legal hold, before the
    first entry the per-member index has not covered yet (holds are found through it),
    and before the newest entry (the chain goes on from it)."""

    key_column = (AccessLogEntry.sequence,)

    def due(self, now: dt.datetime) -> list[Any]:
        return [AccessLogEntry.at < self.rule.after.before(now)]

    @staticmethod
    def _naming_held(now: dt.datetime) -> Select[Any]:
        return select(AccessLogMember.sequence).where(
            AccessLogMember.member_id.in_(held_members(now)))

    def candidates(self, now: dt.datetime) -> Select[Any]:
        indexed = select(func.coalesce(func.max(AccessLogIndexState.indexed_through), 0)
                         ).scalar_subquery()
        # The newest entry always stays, however old: a writer chains the next entry onto
        # it (an emptied log would start again at sequence 1, below the checkpoint).
        newest = select(func.max(AccessLogEntry.sequence)).correlate(None).scalar_subquery()
        stop = select(func.min(AccessLogEntry.sequence)).where(
            or_(AccessLogEntry.at >= self.rule.after.before(now),
                AccessLogEntry.sequence > indexed,
                AccessLogEntry.sequence.in_(self._naming_held(now)),
                AccessLogEntry.sequence >= newest)).scalar_subquery()
        return (select(AccessLogEntry.sequence)
                .where(or_(stop.is_(None), AccessLogEntry.sequence < stop))
                .order_by(AccessLogEntry.sequence))

    def held(self, session: Session, now: dt.datetime) -> int:
        return int(session.scalar(select(func.count()).select_from(AccessLogEntry).where(
            *self.due(now), AccessLogEntry.sequence.in_(self._naming_held(now)))) or 0)

    def apply(self, session: Session, keys: Sequence[Any], now: dt.datetime) -> None:
        last = max(keys)
        last_hash = session.scalar(select(AccessLogEntry.entry_hash)
                                   .where(AccessLogEntry.sequence == last))
        # The anchor is written in the same transaction as the deletion it explains.
        session.add(AccessLogCheckpoint(sequence=last, entry_hash=last_hash, at=now,
                                        pruned=len(keys)))
        session.execute(delete(AccessLogEntry).where(AccessLogEntry.sequence <= last))
        session.execute(delete(AccessLogMember).where(AccessLogMember.sequence <= last))


class ByLastActivity(Handler):
    """Members due by their last activity, a batch at a time in (last activity, id) order
    over the status/activity index, each batch starting after the last one (a keyset):
    the sweep reads each candidate once. Rerunning ``ORDER BY id LIMIT`` per batch read
    the whole due range again for every batch, which grew with the square of the
    members."""

    key_column = (Member.id,)

    def member_column(self) -> Any:
        return Member.id

    def batch(self, session: Session, now: dt.datetime, after: Any,
              size: int) -> tuple[list[Any], Any]:
        query = select(Member.id, Member.last_activity_at).where(
            *self.due(now), Member.id.not_in(held_members(now)))
        if after is not None:
            at, member_id = after
            query = query.where(Member.last_activity_at >= at,
                                or_(Member.last_activity_at > at, Member.id > member_id))
        rows = session.execute(query.order_by(Member.last_activity_at, Member.id)
                               .limit(size)).all()
        return [row.id for row in rows], (rows[-1].last_activity_at, rows[-1].id) if rows else None


class InactiveMembers(ByLastActivity):
    """Erase members inactive past the period, once they were told ``notice_days`` ago."""

    def due(self, now: dt.datetime) -> list[Any]:
        notice = dt.timedelta(days=self.rule.notice_days)
        return [Member.status == "active",
                Member.last_activity_at < self.rule.after.before(now),
                Member.inactivity_notice_at.is_not(None),
                Member.inactivity_notice_at <= now - notice]

    def apply(self, session: Session, keys: Sequence[Any], now: dt.datetime) -> None:
        erase_members(session, self.kit, list(keys), now=now,
                      cause=ErasureCause.rule(self.rule.name))


class InactivityNotices(ByLastActivity):
    """Tell members ``notice_days`` before inactivity erases them."""

    def due(self, now: dt.datetime) -> list[Any]:
        notice = dt.timedelta(days=self.rule.notice_days)
        return [Member.status == "active", Member.inactivity_notice_at.is_(None),
                Member.last_activity_at < self.rule.after.before(now + notice)]

    def apply(self, session: Session, keys: Sequence[Any], now: dt.datetime) -> None:
        self._to_mail = mark_inactive_notified(session, self.kit, list(keys), now=now)

    def after_commit(self) -> None:
        mail_inactivity_notices(self.mailer, getattr(self, "_to_mail", []), self.rule)
        self._to_mail = []


def mark_inactive_notified(session: Session, kit: ErasureKit, ids: list[Any], *,
                           now: dt.datetime) -> list[tuple[str, str | None]]:
    """Record the inactivity notice of a batch; returns the addresses to mail, each with
    the member's preferred language, once the batch has committed (a mail is never sent
    for a notice that was not recorded)."""
    rows = session.execute(select(Member.id, Member.kek_version, Member.wrapped_key,
                                  Member.email, Member.preferred_language)
                           .where(Member.id.in_(ids))).all()
    session.execute(update(Member).where(Member.id.in_([r.id for r in rows]))
                    .values(inactivity_notice_at=now)
                    .execution_options(synchronize_session=False))
    found = ((_email_of(kit, r), r) for r in rows)
    return [(email, preferred_language(kit.crypto, r.id, r.kek_version, r.wrapped_key,
                                       r.preferred_language))
            for email, r in found if email]


def _email_of(kit: ErasureKit, row: Any) -> str | None:
    """A member's email; ``None`` when it cannot be read (never blocks the sweep)."""
    if row.wrapped_key is None or row.kek_version is None or row.email is None:
        return None
    try:
        return kit.crypto.cipher(row.id, row.kek_version, row.wrapped_key).decrypt(
            "email", row.email)
    except (TamperedCiphertext, KeyringError) as exc:
        log.warning("a member could not be opened for a notice (%s)", type(exc).__name__)
        return None


INACTIVITY_SUBJECT = N_("Your membership will end for inactivity")
INACTIVITY_BODY = N_("We have not seen you for a while. Unless you use your membership in "
                     "the next %(days)d days, we will erase your membership and all your "
                     "personal data, as our retention policy says.")


def mail_inactivity_notices(mailer: Mailer, to_mail: list[tuple[str, str | None]],
                            rule: RetentionRule) -> int:
    """Send the notices, each in the member's preferred language (else English); a failed
    send is logged by type only (never the address)."""
    sent = 0
    for email, language in to_mail:
        words = languages.mail(language)
        try:
            mailer.send(email, words.gettext(INACTIVITY_SUBJECT),
                        words.gettext(INACTIVITY_BODY) % {"days": rule.notice_days})
            sent += 1
        except Exception as exc:  # noqa: BLE001  (one bad address must not stop the rest)
            log.warning("an inactivity notice could not be sent (%s)", type(exc).__name__)
    return sent


Kind = tuple[str, str, str]  # a retention rule's (applies_to, anchor, action)
Handlers = Mapping[Kind, Sequence[type[Handler]]]

# The kinds whose tables belong to retention or to the packages below it. The others (the
# data subject requests: ``subject_requests.expiry``) come from the composition root.
HANDLERS: dict[Kind, list[type[Handler]]] = {
    ("member", "last_activity", "erase"): [InactiveMembers, InactivityNotices],
    (CATEGORY, CONSENT_WITHDRAWN, "delete"): [CategoryWithoutConsent],
    ("consent_record", "member_erased", "delete"): [ConsentProof],
    ("access_log", "recorded", "delete"): [AccessLogPrefix],
    ("export_archive", "created", "delete"): [ExportArchives],
    ("outbox_event", "delivered", "delete"): [DeliveredEvents],
    ("sign_in_code", "created", "delete"): [SignInCodes],
}


@dataclass(frozen=True)
class SweepKit:
    """What a sweep needs besides the database: the erasure kit (inactive members are
    erased through it; it has the policy and the export directory), the mailer (the
    inactivity notices) and the handlers of every rule kind: :data:`HANDLERS` and those
    of the packages above retention. Built once by the composition root, which fails at
    start when a kind has no handler."""

    erasure: ErasureKit
    mailer: Mailer
    handlers: Handlers

    def __post_init__(self) -> None:
        missing = sorted(set(KINDS) - set(self.handlers))
        if missing:
            raise ValueError(f"no sweeper handler for the retention rule kinds {missing}")


def _label(rule: RetentionRule, handler: Handler) -> str:
    return f"{rule.name}:notice" if isinstance(handler, InactivityNotices) else rule.name


def sweep(db: Database, kit: SweepKit, *, now: dt.datetime, dry_run: bool = False,
          rule: str | None = None, batch_size: int = 1000, detail: bool = False,
          progress: Progress | None = None) -> SweepReport:
    """Apply every rule (or one), one transaction per batch; returns what was (or, dry,
    would be) done per rule."""
    rules = kit.erasure.policy.retention
    if rule is not None and rule not in rules:
        raise KeyError(f"no retention rule named {rule}")
    report = SweepReport(dry_run=dry_run, at=now)
    failed: list[str] = []
    member_index.catch_up(db)  # legal holds on log entries are found through the index
    for current in rules.values():
        if rule is not None and current.name != rule:
            continue
        for handler_type in kit.handlers[current.kind]:
            handler = handler_type(current, kit.erasure, kit.mailer)
            label = _label(current, handler)
            try:
                report.outcomes.append(_run(db, handler, now=now, dry_run=dry_run,
                                            batch_size=batch_size, detail=detail,
                                            progress=progress, label=label))
            except Exception as exc:  # noqa: BLE001  (one rule failing must not stop the rest)
                # Committed batches stay done; the next sweep resumes this rule.
                log.error("retention rule %s failed with %s\n%s", label, type(exc).__name__,
                          "".join(traceback.format_tb(exc.__traceback__)))
                failed.append(label)
    if not dry_run and any(o.affected for o in report.outcomes
                           if o.action == "erase" or o.rule == "delivered_events"):
        checkpoint_wal(db)  # no page image of a shredded key stays in the WAL
    with db.unit_of_work() as uow:
        # Only a full real sweep schedules the next one (a dry or one-rule run does not).
        action = "retention.sweep" if not dry_run and rule is None else "retention.sweep.partial"
        trail.record(uow.session, ACTOR, action, None, dry_run=dry_run, rule=rule,
                     at=now.isoformat(), counts=report.counts(), failed=failed,
                     skipped_held={o.rule: o.skipped_held for o in report.outcomes})
        uow.commit()
    if failed:
        raise SweepIncomplete(failed, report)
    return report


class SweepIncomplete(Exception):
    """Some rules failed (logged); the others ran. The next sweep resumes the failed ones."""

    def __init__(self, failed: list[str], report: SweepReport):
        super().__init__(f"retention rules failed: {', '.join(failed)}")
        self.failed, self.report = failed, report


def _run(db: Database, handler: Handler, *, now: dt.datetime, dry_run: bool,
         batch_size: int, detail: bool, progress: Progress | None, label: str) -> RuleOutcome:
    action = "notify" if isinstance(handler, InactivityNotices) else handler.rule.action
    outcome = RuleOutcome(rule=label, action=action)
    with db.unit_of_work() as uow:
        outcome.skipped_held = handler.held(uow.session, now)
        total = int(uow.session.scalar(
            select(func.count()).select_from(handler.candidates(now).subquery())) or 0)
        if dry_run:
            outcome.affected = total
            if detail:
                outcome.keys = [str(k) for k in uow.session.scalars(handler.candidates(now))]
            return outcome
    keys_done: list[str] = []
    after = None
    while True:
        with db.unit_of_work() as uow:
            keys, after = handler.batch(uow.session, now, after, batch_size)
            if not keys:
                break
            handler.apply(uow.session, keys, now)
            uow.commit()
        handler.after_commit()
        outcome.affected += len(keys)
        if detail:
            keys_done += [str(k) for k in keys]
        if progress is not None:
            progress(label, outcome.affected, total)
    if detail:
        outcome.keys = keys_done
    return outcome


def last_sweep_at(session: Session) -> dt.datetime | None:
    return session.scalar(select(func.max(AuditEvent.at)).where(
        AuditEvent.action == "retention.sweep", AuditEvent.actor == ACTOR))


@dataclass(frozen=True)
class LastSweep:
    """The last full sweep, as its audit record has it: when, rows affected per rule,
    the rules that failed, and the rows each rule left for a legal hold."""

    at: dt.datetime
    counts: dict[str, int]
    failed: list[str]
    skipped_held: dict[str, int]


def last_sweep(session: Session) -> LastSweep | None:
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "retention.sweep", AuditEvent.actor == ACTOR)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(1)).first()
    if event is None:
        return None
    details: dict[str, Any] = dict(event.details or {})
    return LastSweep(at=event.at, counts=dict(details.get("counts") or {}),
                     failed=list(details.get("failed") or []),
                     skipped_held=dict(details.get("skipped_held") or {}))
