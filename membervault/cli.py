"""The ``membervault`` command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from identity import clients, members, signing_keys
from identity.errors import IdentityError, KeyringError
from identity.key_rotation import keys_under, rewrap_all
from identity.keyring import Keyring, save_keyring
from membervault import migrate
from membervault.services import Services, build_services, ensure_signing_key
from vaultkernel.logs import configure_logging
from vaultkernel.policy import PolicyError
from vaultkernel.settings import Settings, SettingsError, load_settings

app = typer.Typer(help="membervault: member data, consent and retention.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
client_app = typer.Typer(help="Downstream service clients.", no_args_is_help=True)
officer_app = typer.Typer(help="Compliance officers.", no_args_is_help=True)
admin_app = typer.Typer(help="Administrators.", no_args_is_help=True)
keys_app = typer.Typer(help="Key-encryption keys and token signing keys.", no_args_is_help=True)
schema_app = typer.Typer(help="The GraphQL schema.", no_args_is_help=True)
audit_app = typer.Typer(help="The access log.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention rules and the sweeper.", no_args_is_help=True)
consent_app = typer.Typer(help="The consent ledger.", no_args_is_help=True)
for sub, name in ((db_app, "db"), (client_app, "client"), (officer_app, "officer"),
                  (admin_app, "admin"), (keys_app, "keys"), (schema_app, "schema"),
                  (audit_app, "audit"), (consent_app, "consent"), (retention_app, "retention")):
    app.add_typer(sub, name=name)

console = Console(stderr=True, soft_wrap=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


def _services() -> Services:
    """The services for one command; their connections close when the command ends."""
    settings = _settings()
    try:
        services = build_services(settings)
    except (KeyringError, PolicyError) as exc:
        console.print(f"[red]cannot start:[/red] {exc}")
        raise typer.Exit(2) from None
    _open_services.append(services)
    return services


_open_services: list[Services] = []


@app.callback()
def _root(ctx: typer.Context) -> None:
    """membervault: member data, consent and retention."""
    ctx.call_on_close(_close_services)


def _close_services() -> None:
    while _open_services:
        _open_services.pop().close()


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


@app.command()
def serve(host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option()] = None,
          workers: Annotated[int | None, typer.Option()] = None) -> None:
    """Serve the API (GraphQL at /graphql) with uvicorn."""
    import uvicorn

    settings = _settings()
    services = _services()  # fail fast on keys, policy and database before binding
    ensure_signing_key(services)
    services.close()
    configure_logging()
    host = host or settings.host
    port = port or settings.port
    console.print(f"membervault serving on http://{host}:{port} (GraphQL at /graphql)")
    uvicorn.run("membervault.asgi:app", host=host, port=port,
                workers=workers or settings.workers, access_log=False, log_config=None,
                proxy_headers=bool(settings.forwarded_allow_ips),
                forwarded_allow_ips=settings.forwarded_allow_ips or None)


@app.command()
def worker(once: Annotated[bool, typer.Option(help="one pass, then exit")] = False,
           interval: Annotated[float, typer.Option(help="seconds between passes")] = 2.0) -> None:
    """Run the background worker: exports, erasures, webhook deliveries, expiries."""
    from membervault import worker as background

    services = _services()
    ensure_signing_key(services)
    configure_logging()
    if once:
        done = background.run_once(services)
        console.print(", ".join(f"{k}={v}" for k, v in done.items()))
        return
    background.run_forever(services, interval)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply database migrations."""
    settings = _settings()
    migrate.upgrade(settings.database_url, revision)
    console.print(f"database at revision {revision}")


@app.command()
def demo(members_count: Annotated[int, typer.Option("--members")] = 300) -> None:
    """Load the demo clients, staff and synthetic members (development only)."""
    from membervault.demo import CREDENTIALS, load_demo

    services = _services()
    if services.settings.production:
        raise _fail("the demo is for development mode only")
    ensure_signing_key(services)
    credentials = load_demo(services, members_count)
    issuer = services.settings.issuer
    console.print(f"demo ready: {len(credentials)} principals, credentials in {CREDENTIALS}")
    console.print("client token:  curl -s -u loyalty-engine:$(python3 -c \"import json;"
                  f"print(json.load(open('{CREDENTIALS}'))['loyalty-engine'])\") "
                  f"-d grant_type=client_credentials {issuer}/oauth/token")
    console.print("               or: .venv/bin/membervault token --client loyalty-engine")
    console.print(f"member token:  curl -s -H 'content-type: application/json' -d "
                  f"'{{\"email\": \"<email>\"}}' {issuer}/auth/member/code   "
                  f"(code lands in {services.settings.mailbox_file})")
    console.print("               or: .venv/bin/membervault token --member <member number>")
    services.close()


@client_app.command("create")
def client_create(client_id: str, name: Annotated[str, typer.Option()],
                  kind: Annotated[str, typer.Option()],
                  purpose: Annotated[list[str], typer.Option(help="repeatable")],
                  collects_consent: Annotated[bool, typer.Option(
                      help="may record consent on members' behalf")] = False) -> None:
    """Register a client service with the purposes it may declare; prints its secret once."""
    _create_principal(client_id, name, kind, "client", purpose, collects_consent)


@client_app.command("list")
def client_list() -> None:
    """Every registered principal with its role, purposes and state."""
    from sqlalchemy import select

    from identity.models import Client

    services = _services()
    with services.db.unit_of_work() as uow:
        for row in uow.session.scalars(select(Client).order_by(Client.client_id)):
            state = "active" if row.active else "disabled"
            extra = " collects-consent" if row.collects_consent else ""
            console.print(f"{row.client_id} {row.role} {state}{extra} "
                          f"purposes={','.join(row.allowed_purposes) or '-'}")


@client_app.command("disable")
def client_disable(client_id: str) -> None:
    """Stop a principal from obtaining tokens and acting (its live tokens stop working too)."""
    _set_client_active(client_id, False)


@client_app.command("enable")
def client_enable(client_id: str) -> None:
    """Let a disabled principal obtain tokens again."""
    _set_client_active(client_id, True)


def _set_client_active(client_id: str, active: bool) -> None:
    services = _services()
    with services.db.unit_of_work() as uow:
        try:
            clients.set_active(uow.session, client_id, active, actor="cli")
        except IdentityError as exc:
            raise _fail(exc.message) from None
        uow.commit()
    console.print(f"{client_id} {'enabled' if active else 'disabled'}")


@client_app.command("reset-secret")
def client_reset_secret(client_id: str) -> None:
    """Issue a new secret for a principal (the old one stops working); printed once."""
    services = _services()
    with services.db.unit_of_work() as uow:
        try:
            secret = clients.reset_secret(uow.session, services.hasher, client_id, actor="cli")
        except IdentityError as exc:
            raise _fail(exc.message) from None
        uow.commit()
    console.print(f"new secret for {client_id} (shown once):")
    print(secret)


@client_app.command("webhook")
def client_webhook(client_id: str,
                   url: Annotated[str | None, typer.Option(
                       help="where events are POSTed (https:// in production)")] = None,
                   remove: Annotated[bool, typer.Option(
                       "--remove", help="stop delivering events to this client")] = False) -> None:
    """Register a client's webhook and print its signing secret once (whsec_...), or remove it.
    Registering again moves the webhook and replaces the secret."""
    from outbox.errors import OutboxError
    from outbox.subscriptions import remove_webhook, set_webhook

    if (url is None) == (not remove):
        raise _fail("give exactly one of --url or --remove")
    services = _services()
    with services.db.unit_of_work() as uow:
        try:
            if remove:
                had = remove_webhook(uow.session, client_id, actor="cli")
            else:
                secret = set_webhook(uow.session, services.keyring, client_id, str(url),
                                     production=services.settings.production, actor="cli")
        except OutboxError as exc:
            raise _fail(exc.message) from None
        uow.commit()
    if remove:
        console.print(f"webhook of {client_id} removed" if had else
                      f"{client_id} had no webhook")
        return
    console.print(f"webhook of {client_id} set. Its signing secret (shown once):")
    print(secret)


@officer_app.command("create")
def officer_create(client_id: str, name: Annotated[str, typer.Option()]) -> None:
    """Create a compliance officer; prints the secret once."""
    _create_principal(client_id, name, "officer", "officer", [])


@admin_app.command("create")
def admin_create(client_id: str, name: Annotated[str, typer.Option()]) -> None:
    """Create an administrator; prints the secret once."""
    _create_principal(client_id, name, "admin", "admin", [])


def _create_principal(client_id: str, name: str, kind: str, role: str,
                      purposes: list[str], collects_consent: bool = False) -> None:
    services = _services()
    with services.db.unit_of_work() as uow:
        try:
            secret = clients.create_client(
                uow.session, services.hasher, client_id=client_id, name=name, kind=kind,
                role=role, purposes=purposes, known_purposes=services.policy.purposes,
                actor="cli", collects_consent=collects_consent)
        except IdentityError as exc:
            raise _fail(exc.message) from None
        uow.commit()
    console.print(f"{role} {client_id} created. Its secret (shown once):")
    print(secret)


@keys_app.command("init")
def keys_init(output: Path) -> None:
    """Write a new keyring for production (never overwrites); keep it off the database host's
    backups and load it with MEMBERVAULT_KEK_FILE or MEMBERVAULT_KEK_JSON."""
    if output.exists():
        raise _fail(f"{output} exists; refusing to overwrite a keyring")
    save_keyring(Keyring.generate(for_production=True), output)
    console.print(f"wrote a production keyring to {output} (mode 0600)")


@keys_app.command("list")
def keys_list() -> None:
    """KEK versions with how many keys each wraps, and the published signing keys."""
    from sqlalchemy import select

    from identity.models import SigningKey

    services = _services()
    for version in services.keyring.versions:
        active = " (active)" if version == services.keyring.active else ""
        console.print(f"KEK {version}{active}: wraps {keys_under(services.db, version)} keys")
    with services.db.unit_of_work() as uow:
        for row in uow.session.scalars(select(SigningKey).order_by(SigningKey.created_at)):
            state = "active" if row.active else ("retired" if row.retired_at else "published")
            console.print(f"signing key {row.kid} {row.algorithm} {state} "
                          f"created {row.created_at:%Y-%m-%d %H:%M}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new KEK version and re-wrap every data key under it."""
    services = _services()
    settings = services.settings
    if settings.kek_json:
        raise _fail("rotation writes the keyring file: use MEMBERVAULT_KEK_FILE, not _KEK_JSON")
    keyring = services.keyring.with_new_version()
    save_keyring(keyring, Path(settings.kek_file))
    count = rewrap_all(services.db, keyring)
    console.print(f"KEK version {keyring.active} active; {count} keys re-wrapped. Older "
                  f"versions {[v for v in keyring.versions if v != keyring.active]} can be "
                  "retired with 'keys retire-kek'.")


@keys_app.command("rewrap")
def keys_rewrap() -> None:
    """Finish an interrupted rotation: re-wrap keys still under older KEK versions."""
    services = _services()
    console.print(f"{rewrap_all(services.db, services.keyring)} keys re-wrapped")


@keys_app.command("retire-kek")
def keys_retire_kek(version: int) -> None:
    """Remove an old KEK version once no key is wrapped by it."""
    services = _services()
    if services.settings.kek_json:
        raise _fail("retiring writes the keyring file: use MEMBERVAULT_KEK_FILE")
    try:
        keyring = services.keyring.without_version(version)
    except KeyringError as exc:
        raise _fail(str(exc)) from None
    remaining = keys_under(services.db, version)
    if remaining:
        raise _fail(f"{remaining} keys are still wrapped by version {version}; run 'keys rewrap'")
    save_keyring(keyring, Path(services.settings.kek_file))
    console.print(f"KEK version {version} retired")


@keys_app.command("roll-signing")
def keys_roll_signing() -> None:
    """Make a new token signing key active; the old one keeps verifying until retired."""
    services = _services()
    with services.db.unit_of_work() as uow:
        row = signing_keys.roll(uow.session, services.keyring)
        uow.commit()
    console.print(f"signing key {row.kid} active")


@keys_app.command("retire-signing")
def keys_retire_signing(kid: str) -> None:
    """Stop publishing (and accepting tokens signed by) an old signing key."""
    services = _services()
    with services.db.unit_of_work() as uow:
        try:
            signing_keys.retire(uow.session, kid)
        except (LookupError, ValueError) as exc:
            raise _fail(str(exc)) from None
        uow.commit()
    console.print(f"signing key {kid} retired")


@app.command()
def token(client: Annotated[str | None, typer.Option(help="a client, officer or admin id")] = None,
          member: Annotated[str | None, typer.Option(help="a member number")] = None) -> None:
    """Development only: mint an access token for a demo principal."""
    from identity.models import Client
    from identity.principal import purpose_scope

    services = _services()
    settings = services.settings
    if settings.production:
        raise _fail("'token' is for development mode only")
    if (client is None) == (member is None):
        raise _fail("give exactly one of --client or --member")
    ensure_signing_key(services)
    with services.db.unit_of_work() as uow:
        if client is not None:
            row = uow.session.get(Client, client)
            if row is None:
                raise _fail("no such client")
            value, _ = services.issuer.issue(
                subject=row.client_id, role=row.role, ttl=settings.client_token_ttl,
                client_id=row.client_id,
                scopes=[purpose_scope(p) for p in row.allowed_purposes])
        else:
            try:
                profile = members.find_member(uow, services.crypto, number=member,
                                              default_region=settings.default_region)
            except IdentityError as exc:
                raise _fail(exc.message) from None
            if profile is None:
                raise _fail("no member with this number")
            value, _ = services.issuer.issue(subject=str(profile.id), role="member",
                                             ttl=settings.member_token_ttl,
                                             client_id="membervault-cli")
    print(value)


@schema_app.command("export")
def schema_export(path: Annotated[Path | None, typer.Argument()] = None) -> None:
    """Write the GraphQL SDL (default: schema/schema.graphql, which the tests check)."""
    from schema.schema import SDL_PATH, sdl

    path = path or SDL_PATH
    path.write_text(sdl())
    console.print(f"wrote {path}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the access log's hash chain; exit 1 and name the first broken link if any."""
    from audit.access_log import verify

    services = _services()
    with services.db.unit_of_work() as uow:
        result = verify(uow.session)
    if result.ok:
        console.print(f"access log intact: {result.checked} entries verified")
        return
    console.print(f"[red]access log broken[/red] at sequence {result.first_broken_sequence}: "
                  f"{result.problem} ({result.checked} entries verified before it)")
    raise typer.Exit(1)


@retention_app.command("sweep")
def retention_sweep(dry_run: Annotated[bool, typer.Option(help="report, change nothing")] = False,
                    rule: Annotated[str | None, typer.Option(help="only this rule")] = None,
                    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 1000) -> None:
    """Apply every retention rule (or one) in bounded batches; prints a summary per rule."""
    from rich.progress import Progress
    from rich.table import Table

    from retention.sweeper import SweepIncomplete, sweep
    from vaultkernel.clock import utcnow

    services = _services()
    if rule is not None and rule not in services.policy.retention:
        raise _fail(f"no retention rule named {rule} "
                    f"(known: {', '.join(services.policy.retention)})")
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        tasks: dict[str, int] = {}

        def progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done)

        try:
            report = sweep(services.db, services.erasure_kit, services.mailer, now=utcnow(),
                           dry_run=dry_run, rule=rule,
                           batch_size=batch_size, progress=progress)
            failed: list[str] = []
        except SweepIncomplete as incomplete:
            report, failed = incomplete.report, incomplete.failed
    table = Table(title="retention sweep" + (" (dry run: nothing changed)" if dry_run else ""))
    for column in ("rule", "action", "would affect" if dry_run else "affected", "held, skipped"):
        table.add_column(column)
    for outcome in report.outcomes:
        table.add_row(outcome.rule, outcome.action, str(outcome.affected),
                      str(outcome.skipped_held))
    Console(soft_wrap=True).print(table)
    if failed:
        raise _fail(f"rules failed (see the log; the next sweep resumes them): "
                    f"{', '.join(failed)}")


@app.command()
def ropa(out: Annotated[Path, typer.Option(help="directory for ropa.json and ropa.md")] = Path(".")
         ) -> None:
    """Write the record of processing activities (GDPR Art. 30) from the policy file."""
    import json

    from retention.ropa import as_markdown, record_of_processing

    services = _services()
    record = record_of_processing(services.policy)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ropa.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / "ropa.md").write_text(as_markdown(record))
    console.print(f"wrote {out / 'ropa.json'} and {out / 'ropa.md'}")


@consent_app.command("rebuild")
def consent_rebuild() -> None:
    """Recompute the current consent state from the append-only records."""
    from consent.ledger import rebuild_projection

    services = _services()
    with services.db.unit_of_work() as uow:
        count = rebuild_projection(uow.session)
        uow.commit()
    console.print(f"consent state rebuilt: {count} member-purpose states")


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    try:
        app()
    except KeyringError as exc:
        console.print(f"[red]key error:[/red] {exc}")
        sys.exit(2)
