"""Settings from environment variables (``MEMBERVAULT_*``) and an optional TOML file.

Precedence: environment variable, then the settings file (``MEMBERVAULT_SETTINGS_FILE``,
default ``membervault.toml`` in the working directory when present), then the default.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ENV_PREFIX = "MEMBERVAULT_"
METRICS_TOKEN_MIN = 32  # characters: a guessable token would open /metrics to anyone


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the setting, never a secret."""


@dataclass(frozen=True)
class Settings:
    mode: str = "development"  # development | production
    database_url: str = "sqlite:///var/membervault.db"
    policy_file: str = ""  # empty: the bundled default policy
    # Key-encryption keys: a keyring file (JSON), or the keyring JSON itself in an env var.
    kek_file: str = "var/keyring.json"
    kek_json: str = ""
    issuer: str = "http://127.0.0.1:8000"
    audience: str = "membervault"
    default_region: str = "GB"  # for phone numbers given in national format
    client_token_ttl: int = 900
    member_token_ttl: int = 600
    otp_ttl: int = 600
    otp_max_attempts: int = 5  # wrong codes per address per 15 minutes, across its codes
    otp_max_per_window: int = 5  # codes one address may ask for per 15 minutes
    otp_max_guesses_per_caller: int = 20  # wrong codes per client IP per 15 minutes
    otp_max_guesses_global: int = 1000  # wrong codes for all addresses per 15 minutes
    mailbox_file: str = "var/mailbox.txt"
    export_dir: str = "var/exports"
    export_link_ttl: int = 7 * 86400  # seconds an export download link stays valid
    webhook_max_attempts: int = 10
    # Networks webhooks may reach although not public (comma-separated, e.g. 10.1.0.0/16).
    webhook_allowed_networks: str = ""
    retention_interval: int = 3600  # seconds between retention sweeps run by the worker
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "membervault@localhost"
    graphiql: bool | None = None
    introspection: bool | None = None
    max_body_bytes: int = 256 * 1024
    max_query_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    oidc_issuer: str = ""
    oidc_jwks_url: str = ""
    oidc_audience: str = ""
    oidc_role_claim: str = "membervault_role"
    # Addresses of reverse proxies whose X-Forwarded-For to trust (uvicorn's
    # forwarded_allow_ips); empty: none, the peer address is the client's.
    forwarded_allow_ips: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    # json (one JSON object per line) or console (readable); empty: json in production.
    log_format: str = ""
    # The bearer token /metrics asks for; empty: /metrics answers 404 (docs/operations.md).
    metrics_token: str = ""
    # Where uvicorn's worker processes share their metrics (prometheus-client's
    # multiprocess mode) when there are several, and the background worker writes its
    # own (worker/), which /metrics adds; empty: a fresh temporary directory for serve.
    metrics_dir: str = ""
    # Where traces go (OTLP over HTTP, e.g. http://collector:4318/v1/traces); empty: none.
    otlp_endpoint: str = ""

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def graphiql_enabled(self) -> bool:
        return (not self.production) if self.graphiql is None else self.graphiql

    @property
    def effective_log_format(self) -> str:
        return self.log_format or ("json" if self.production else "console")

    @property
    def introspection_enabled(self) -> bool:
        return (not self.production) if self.introspection is None else self.introspection

    def replace(self, **changes: Any) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)


def _coerce(name: str, raw: Any, default: Any) -> Any:
    target = type(default) if default is not None else bool
    if isinstance(raw, str):
        text = raw.strip()
        if target is bool or default is None:
            if text.lower() in {"1", "true", "yes", "on"}:
                return True
            if text.lower() in {"0", "false", "no", "off"}:
                return False
            raise SettingsError(f"{ENV_PREFIX}{name.upper()} must be true or false")
        if target is int:
            try:
                return int(text)
            except ValueError:
                raise SettingsError(f"{ENV_PREFIX}{name.upper()} must be an integer") from None
        return text
    if target is int and isinstance(raw, bool):
        raise SettingsError(f"setting {name} must be an integer")
    if not isinstance(raw, target):
        raise SettingsError(f"setting {name} must be of type {target.__name__}")
    return raw


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    file_values: dict[str, Any] = {}
    path = env.get(f"{ENV_PREFIX}SETTINGS_FILE")
    candidate = Path(path) if path else Path("membervault.toml")
    if path and not candidate.is_file():
        raise SettingsError(f"settings file {candidate} does not exist")
    if candidate.is_file():
        try:
            file_values = tomllib.loads(candidate.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {candidate}: {exc}") from None
    known = {f.name: f for f in fields(Settings)}
    unknown = sorted(set(file_values) - set(known))
    if unknown:
        raise SettingsError(f"settings file {candidate}: unknown settings {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, f in known.items():
        default = f.default
        if name in file_values:
            values[name] = _coerce(name, file_values[name], default)
        env_name = f"{ENV_PREFIX}{name.upper()}"
        if env_name in env:
            values[name] = _coerce(name, env[env_name], default)
    settings = Settings(**values)
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    if settings.mode not in {"development", "production"}:
        raise SettingsError("MEMBERVAULT_MODE must be 'development' or 'production'")
    _check_database_url(settings.database_url)
    if not 1 <= settings.port <= 65535:
        raise SettingsError("MEMBERVAULT_PORT must be between 1 and 65535")
    if settings.production:
        if not settings.issuer.startswith("https://"):
            raise SettingsError("MEMBERVAULT_ISSUER must be an https:// URL in production")
        if not (settings.smtp_host):
            raise SettingsError("MEMBERVAULT_SMTP_HOST is required in production")
    if settings.log_format not in {"", "json", "console"}:
        raise SettingsError("MEMBERVAULT_LOG_FORMAT must be 'json' or 'console'")
    if settings.metrics_token and len(settings.metrics_token) < METRICS_TOKEN_MIN:
        raise SettingsError(f"MEMBERVAULT_METRICS_TOKEN must be at least {METRICS_TOKEN_MIN} "
                            "characters")
    if settings.otlp_endpoint and not settings.otlp_endpoint.startswith(("http://", "https://")):
        raise SettingsError("MEMBERVAULT_OTLP_ENDPOINT must be an http:// or https:// URL")
    if not 60 <= settings.export_link_ttl <= 30 * 86400:
        raise SettingsError("MEMBERVAULT_EXPORT_LINK_TTL must be between 60 s and 30 days")
    for network in settings.webhook_allowed_networks.split(","):
        try:
            if network.strip():
                ipaddress.ip_network(network.strip(), strict=False)
        except ValueError:
            raise SettingsError("MEMBERVAULT_WEBHOOK_ALLOWED_NETWORKS must be IP networks "
                                "separated by commas (e.g. 10.1.0.0/16)") from None
    if not 1 <= settings.webhook_max_attempts <= 50:
        raise SettingsError("MEMBERVAULT_WEBHOOK_MAX_ATTEMPTS must be between 1 and 50")
    for name in ("otp_max_attempts", "otp_max_per_window", "otp_max_guesses_per_caller",
                 "otp_max_guesses_global"):
        if getattr(settings, name) < 1:
            raise SettingsError(f"{ENV_PREFIX}{name.upper()} must be at least 1")
    for name in ("client_token_ttl", "member_token_ttl", "otp_ttl"):
        if not 30 <= getattr(settings, name) <= 86400:
            raise SettingsError(f"{ENV_PREFIX}{name.upper()} must be between 30 and 86400 seconds")
    if bool(settings.oidc_issuer) != bool(settings.oidc_jwks_url) or (
        settings.oidc_issuer and not settings.oidc_audience
    ):
        raise SettingsError(
            "external OIDC needs MEMBERVAULT_OIDC_ISSUER, MEMBERVAULT_OIDC_JWKS_URL "
            "and MEMBERVAULT_OIDC_AUDIENCE together"
        )


def _check_database_url(url: str) -> None:
    """A URL SQLAlchemy can parse, for SQLite or PostgreSQL (never echoed: it may hold a
    password)."""
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise SettingsError("MEMBERVAULT_DATABASE_URL is not a database URL (expected "
                            "sqlite:///path or postgresql://user@host:port/db)") from None
    if backend not in {"sqlite", "postgresql", "postgres"}:
        raise SettingsError(f"MEMBERVAULT_DATABASE_URL: {backend!r} is not supported; use "
                            "sqlite:///path or postgresql://user@host:port/db")
