"""Wiring: everything a process needs, built once from settings (never at import time)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from audit import heads
from audit.access_log import AccessLog
from audit.heads import Notary
from export.archive import Exports
from identity import signing_keys
from identity.clients import SecretHasher
from identity.encryption import MemberCrypto
from identity.keyring import Keyring, load_keyring
from identity.models import PERSONAL_FIELDS
from identity.oauth import TokenEndpoint
from identity.oidc import ExternalIssuer
from identity.registrations import Registrations
from identity.sign_in import SignInCodes
from identity.sign_in_limits import GuessLimits
from identity.signed_documents import check_document, sign_document
from identity.signing_keys import SigningKeys
from identity.tokens import TokenIssuer, TokenVerifier
from outbox.addresses import AddressPolicy
from outbox.delivery import Courier
from retention import sweeper
from retention.shredding import ErasureKit
from retention.sweeper import SweepKit
from schema.cursors import Cursors
from subject_requests import access, expiry
from subject_requests.deadlines import JURISDICTIONS, Deadlines
from subject_requests.opening import Workflow
from vaultkernel.clock import Clock, SystemClock
from vaultkernel.database import Database
from vaultkernel.languages import MEMBER_LANGUAGES
from vaultkernel.mailer import MailboxFileMailer, Mailer, MailService, SmtpMailer
from vaultkernel.policy import Policy, load_policy
from vaultkernel.settings import Settings

DEFAULT_POLICY = Path(__file__).resolve().parent / "policy" / "default.toml"


def load_member_policy(path: str | Path | None = None) -> Policy:
    """The policy file (the bundled default when no path is given), validated against
    the member attributes identity stores, the jurisdictions requests know and the
    languages members are served in."""
    return load_policy(path or DEFAULT_POLICY, member_attributes=PERSONAL_FIELDS,
                       jurisdictions=JURISDICTIONS, languages=MEMBER_LANGUAGES)


@dataclass
class Services:
    settings: Settings
    db: Database
    keyring: Keyring
    crypto: MemberCrypto
    policy: Policy
    hasher: SecretHasher
    signing_keys: SigningKeys
    issuer: TokenIssuer
    verifier: TokenVerifier
    token_endpoint: TokenEndpoint
    sign_in: SignInCodes
    mailer: Mailer
    cursors: Cursors
    registrations: Registrations  # clients' registrations, cached for seconds
    clock: Clock
    exports: Exports  # export archives: building, links, downloads, expiry
    request_workflow: Workflow  # requests carried out at once (rectification, ...)
    courier: Courier  # webhook deliveries
    erasure_kit: ErasureKit
    sweep_kit: SweepKit  # the retention sweep: the erasure kit, the mailer, every rule's handler
    access_log: AccessLog  # the writer every member read records through
    notary: Notary  # signs and checks the access log's heads

    def close(self) -> None:
        self.access_log.close()
        self.db.dispose()


def build_services(settings: Settings, *, db: Database | None = None,
                   mailer: MailService | None = None, policy: Policy | None = None,
                   clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    keyring = load_keyring(settings.kek_json, settings.kek_file, production=settings.production,
                           clock=clock)
    db = db or Database.from_url(settings.database_url)
    crypto = MemberCrypto(keyring, keyring.derive)
    keys = SigningKeys(db, keyring, clock)
    issuer = TokenIssuer(keys, settings.issuer, settings.audience)
    external = None
    if settings.oidc_issuer:
        external = ExternalIssuer(settings.oidc_issuer, settings.oidc_jwks_url,
                                  settings.oidc_audience, settings.oidc_role_claim)
    hasher = SecretHasher(keyring.derive)
    if mailer is None:
        mailer = (SmtpMailer(settings.smtp_host, settings.smtp_port, settings.smtp_user,
                             settings.smtp_password, settings.smtp_from)
                  if settings.smtp_host else MailboxFileMailer(settings.mailbox_file))
    policy = policy or load_member_policy(settings.policy_file or None)
    erasure_kit = ErasureKit(crypto=crypto, keyring=keyring, policy=policy,
                             export_dir=Path(settings.export_dir),
                             access_requests=access.requests_of, sent_mail=mailer)
    return Services(
        settings=settings,
        db=db,
        keyring=keyring,
        crypto=crypto,
        policy=policy,
        hasher=hasher,
        signing_keys=keys,
        issuer=issuer,
        verifier=TokenVerifier(keys, settings.issuer, settings.audience, external),
        token_endpoint=TokenEndpoint(db, hasher, issuer, settings.client_token_ttl),
        sign_in=SignInCodes(crypto, keyring.derive, ttl=settings.otp_ttl,
                            max_per_window=settings.otp_max_per_window,
                            guesses=GuessLimits(per_address=settings.otp_max_attempts,
                                                per_caller=settings.otp_max_guesses_per_caller,
                                                overall=settings.otp_max_guesses_global),
                            clock=clock),
        mailer=mailer,
        cursors=Cursors(keyring.derive("pagination-cursor")),
        registrations=Registrations(db, clock),
        clock=clock,
        exports=Exports(crypto=crypto, signing_key=keys.active, policy=policy,
                        issuer=settings.issuer, directory=Path(settings.export_dir),
                        link_ttl=dt.timedelta(seconds=settings.export_link_ttl)),
        request_workflow=Workflow(policy=policy, crypto=crypto,
                                  default_region=settings.default_region,
                                  deadlines=Deadlines(policy.time_zone, policy.holidays)),
        courier=Courier(keyring=keyring, crypto=crypto,
                        max_attempts=settings.webhook_max_attempts,
                        addresses=AddressPolicy.parse(settings.webhook_allowed_networks)),
        erasure_kit=erasure_kit,
        sweep_kit=SweepKit(erasure=erasure_kit, mailer=mailer,
                           handlers={**sweeper.HANDLERS, **expiry.HANDLERS}),
        access_log=AccessLog(db, clock),
        notary=Notary(
            sign=lambda document: sign_document(document, keys.active(), heads.TYP),
            check=lambda token: check_document(token, keys.public_key, heads.TYP)),
    )


def ensure_signing_key(services: Services) -> None:
    with services.db.unit_of_work() as uow:
        signing_keys.ensure_active_key(uow.session, services.keyring)
        uow.commit()
    services.signing_keys.invalidate()
