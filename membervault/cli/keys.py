"""Key-encryption keys and token signing keys: ``membervault keys ...``."""

from __future__ import annotations

from pathlib import Path

import typer

from identity.errors import IdentityError, KeyringError
from identity.key_rotation import keys_under, rewrap_all
from identity.keyring import Keyring, save_keyring
from identity.listings import KeyInventory
from identity.service import key_inventory, retire_signing_key, roll_signing_key
from membervault.cli.context import console, fail, open_services
from membervault.cli.output import JsonOption, emit_json, line, timestamp
from membervault.cli.progress import progress_bar

keys_app = typer.Typer(help="Key-encryption keys and token signing keys.", no_args_is_help=True)


@keys_app.command("init")
def keys_init(output: Path) -> None:
    """Write a new keyring for production (never overwrites); keep it off the database host's
    backups and load it with MEMBERVAULT_KEK_FILE or MEMBERVAULT_KEK_JSON."""
    if output.exists():
        raise fail(f"{output} exists; refusing to overwrite a keyring")
    save_keyring(Keyring.generate(for_production=True), output)
    console.print(f"wrote a production keyring to {output} (mode 0600)")


@keys_app.command("list")
def keys_list(as_json: JsonOption = False) -> None:
    """KEK versions with how many keys each wraps, and the published signing keys."""
    services = open_services()
    with services.db.unit_of_work() as uow:
        inventory = key_inventory(uow, services.keyring)
    if as_json:
        emit_json(_inventory_document(inventory))
        return
    for kek in inventory.kek_versions:
        active = " (active)" if kek.active else ""
        line(f"KEK {kek.version}{active}: wraps {kek.keys_wrapped} keys")
    for key in inventory.signing_keys:
        line(f"signing key {key.kid} {key.algorithm} {key.state} "
             f"created {key.created_at:%Y-%m-%d %H:%M}")


def _inventory_document(inventory: KeyInventory) -> dict[str, object]:
    return {
        "kekVersions": [{"version": k.version, "active": k.active, "keysWrapped": k.keys_wrapped}
                        for k in inventory.kek_versions],
        "signingKeys": [{"kid": k.kid, "algorithm": k.algorithm, "state": k.state,
                         "createdAt": timestamp(k.created_at),
                         "retiredAt": timestamp(k.retired_at)}
                        for k in inventory.signing_keys],
    }


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new KEK version and re-wrap every data key under it."""
    services = open_services()
    settings = services.settings
    if settings.kek_json:
        raise fail("rotation writes the keyring file: use MEMBERVAULT_KEK_FILE, not _KEK_JSON")
    keyring = services.keyring.with_new_version()
    save_keyring(keyring, Path(settings.kek_file))
    with progress_bar("re-wrapping keys") as advance:
        count = rewrap_all(services.db, keyring, progress=advance)
    console.print(f"KEK version {keyring.active} active; {count} keys re-wrapped. Older "
                  f"versions {[v for v in keyring.versions if v != keyring.active]} can be "
                  "retired with 'keys retire-kek'.")


@keys_app.command("rewrap")
def keys_rewrap() -> None:
    """Finish an interrupted rotation: re-wrap keys still under older KEK versions."""
    services = open_services()
    with progress_bar("re-wrapping keys") as advance:
        count = rewrap_all(services.db, services.keyring, progress=advance)
    console.print(f"{count} keys re-wrapped")


@keys_app.command("retire-kek")
def keys_retire_kek(version: int) -> None:
    """Remove an old KEK version once no key is wrapped by it."""
    services = open_services()
    if services.settings.kek_json:
        raise fail("retiring writes the keyring file: use MEMBERVAULT_KEK_FILE")
    try:
        keyring = services.keyring.without_version(version)
    except KeyringError as exc:
        raise fail(str(exc)) from None
    remaining = keys_under(services.db, version)
    if remaining:
        raise fail(f"{remaining} keys are still wrapped by version {version}; run 'keys rewrap'")
    save_keyring(keyring, Path(services.settings.kek_file))
    console.print(f"KEK version {version} retired")


@keys_app.command("roll-signing")
def keys_roll_signing() -> None:
    """Make a new token signing key active; the old one keeps verifying until retired."""
    services = open_services()
    with services.db.unit_of_work() as uow:
        row = roll_signing_key(uow, services.keyring)
    console.print(f"signing key {row.kid} active")


@keys_app.command("retire-signing")
def keys_retire_signing(kid: str) -> None:
    """Stop publishing (and accepting tokens signed by) an old signing key."""
    services = open_services()
    with services.db.unit_of_work() as uow:
        try:
            retire_signing_key(uow, kid)
        except IdentityError as exc:
            raise fail(exc.message) from None
    console.print(f"signing key {kid} retired")

