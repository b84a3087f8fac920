"""The keyring (identity.keyring): provisioned in production, generated once in
development, never showing key material, wrapping data keys across rotations."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from identity.errors import KeyringError
from identity.keyring import Keyring, load_keyring, save_keyring
from membervault.services import build_services
from tests.conftest import production_env
from vaultkernel.sealing import TamperedCiphertext
from vaultkernel.settings import load_settings

pytestmark = pytest.mark.usefixtures("no_settings_file_in_cwd")


def test_production_refuses_a_missing_keyring_and_never_generates_one(tmp_path: Path) -> None:
    missing = tmp_path / "keys" / "keyring.json"
    settings = load_settings(production_env(missing))
    with pytest.raises(KeyringError, match="production"):
        build_services(settings)
    assert not missing.exists()
    assert not missing.parent.exists()
    with pytest.raises(KeyringError):
        load_keyring("", str(missing), production=True)
    assert not missing.exists()


def test_production_refuses_a_generated_keyring(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    save_keyring(Keyring.generate(), path)
    assert json.loads(path.read_text())["generated"] is True
    with pytest.raises(KeyringError, match="generated"):
        build_services(load_settings(production_env(path)))
    with pytest.raises(KeyringError, match="generated"):
        load_keyring(path.read_text(), "", production=True)  # given as MEMBERVAULT_KEK_JSON
    # development accepts it
    assert load_keyring("", str(path), production=False).generated


def test_development_generates_a_private_keyring_once(tmp_path: Path) -> None:
    path = tmp_path / "var" / "keyring.json"
    first = load_keyring("", str(path), production=False)
    assert first.generated
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = load_keyring("", str(path), production=False)
    assert again.to_json() == first.to_json()


def test_production_accepts_a_provisioned_keyring(keyring_file: Path) -> None:
    keyring = load_keyring("", str(keyring_file), production=True)
    assert not keyring.generated
    from_env = load_keyring(keyring_file.read_text(), "/nonexistent", production=True)
    assert from_env.to_json() == keyring.to_json()


# -- the keyring itself -----------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "not json", "[]", "{}", '{"active": 1, "keks": {}, "index_key": ""}',
    '{"active": 1, "keks": {"1": "c2hvcnQ="}, "index_key": "c2hvcnQ="}',
    '{"active": 1, "keks": {"1": "!!!"}, "index_key": "!!!"}',
    '{"active": 1, "keks": ["x"], "index_key": "x"}',
])
def test_malformed_keyrings_are_refused(text: str) -> None:
    with pytest.raises(KeyringError) as caught:
        Keyring.from_json(text, "test-keyring")
    assert "c2hvcnQ" not in str(caught.value)


def test_the_active_version_must_be_in_the_keyring() -> None:
    data = json.loads(Keyring.generate().to_json())
    data["active"] = 2
    with pytest.raises(KeyringError, match="active"):
        Keyring.from_json(json.dumps(data), "test-keyring")


def test_keyring_repr_shows_no_key_material() -> None:
    keyring = Keyring.generate()
    text = repr(keyring) + str(keyring)
    data = json.loads(keyring.to_json())
    assert data["keks"]["1"] not in text and data["index_key"] not in text
    assert "active=1" in text


def test_wrap_rotate_and_retire() -> None:
    keyring = Keyring.generate()
    version, wrapped = keyring.wrap(b"k" * 32, b"aad")
    assert version == 1
    rotated = keyring.with_new_version()
    assert rotated.active_version == 2 and rotated.versions == [1, 2]
    assert rotated.unwrap(1, wrapped, b"aad") == b"k" * 32  # old versions still unwrap
    with pytest.raises(TamperedCiphertext):
        rotated.unwrap(1, wrapped, b"other aad")
    with pytest.raises(TamperedCiphertext):
        rotated.unwrap(1, wrapped[:-1] + bytes([wrapped[-1] ^ 1]), b"aad")
    with pytest.raises(KeyringError, match="active"):
        rotated.without_version(2)
    with pytest.raises(KeyringError):
        rotated.without_version(7)
    retired = rotated.without_version(1)
    assert retired.versions == [2]
    with pytest.raises(KeyringError, match="retired"):
        retired.unwrap(1, wrapped, b"aad")
    restored = Keyring.from_json(retired.to_json(), "round-trip")
    assert restored.to_json() == retired.to_json()


@pytest.mark.parametrize("file_mode", [0o644, 0o640, 0o604, 0o620], ids=lambda m: f"{m:04o}")
def test_production_refuses_a_keyring_file_others_may_access(keyring_file: Path,
                                                             file_mode: int) -> None:
    keyring_file.chmod(file_mode)
    with pytest.raises(KeyringError, match="chmod 600") as refused:
        load_keyring("", str(keyring_file), production=True)
    assert f"{file_mode:04o}" in str(refused.value)
    with pytest.raises(KeyringError, match="accessible by group or others"):
        build_services(load_settings(production_env(keyring_file)))


def test_development_warns_in_one_line_about_a_keyring_file_others_may_read(
        keyring_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    keyring_file.chmod(0o644)
    with caplog.at_level("WARNING"):
        keyring = load_keyring("", str(keyring_file), production=False)
    assert keyring.to_json() == Keyring.from_json(keyring_file.read_text(), "x").to_json()
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warning.name == "membervault.keys"
    message = warning.getMessage()
    assert "\n" not in message and "mode 0644" in message and "chmod 600" in message


def test_a_private_keyring_file_loads_without_a_word(keyring_file: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    assert stat.S_IMODE(os.stat(keyring_file).st_mode) == 0o600
    with caplog.at_level("DEBUG"):
        load_keyring("", str(keyring_file), production=True)
        load_keyring("", str(keyring_file), production=False)
    assert [r for r in caplog.records if r.name == "membervault.keys"] == []
