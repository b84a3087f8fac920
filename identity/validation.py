"""Validation and normalisation of member attributes.

Every check returns an :class:`IdentityError` with the field and a code; messages say
what is wrong with the *shape* of a value and never repeat the value itself.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import orjson
import phonenumbers
from email_validator import EmailNotValidError, validate_email

from identity.errors import IdentityError, ValidationFailed

MAX_NAME = 100
MAX_EMAIL = 254
MAX_ADDRESS_LINE = 200
MAX_PREFERENCES_BYTES = 4096
MIN_AGE_YEARS = 16  # GDPR Art. 8: the default age of digital consent
MAX_AGE_YEARS = 120
LANGUAGE_TAG = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8}){0,3}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
ADDRESS_KEYS = {"lines", "locality", "region", "postal_code", "country"}

REGISTRATION_FIELDS = {
    "given_name", "family_name", "email", "phone", "birthdate",
    "postal_address", "preferred_language", "preferences",
}
REQUIRED_FIELDS = {"given_name", "family_name", "email"}


def _err(field: str, code: str, message: str) -> IdentityError:
    return IdentityError(message, field=field, code=code)


def _text(field: str, value: Any, max_len: int) -> str:
    if not isinstance(value, str):
        raise _err(field, "INVALID_TYPE", f"{field} must be text")
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise _err(field, "REQUIRED", f"{field} must not be empty")
    if len(text) > max_len:
        raise _err(field, "TOO_LONG", f"{field} must be at most {max_len} characters")
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise _err(field, "INVALID_CHARACTERS", f"{field} must not contain control characters")
    return text


def normalise_email(value: Any) -> str:
    text = _text("email", value, MAX_EMAIL)
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise _err("email", "INVALID_EMAIL", "email is not a valid address") from None
    return result.normalized.lower()


def normalise_phone(value: Any, default_region: str) -> str:
    text = _text("phone", value, 32)
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise _err("phone", "INVALID_PHONE", "phone is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise _err("phone", "INVALID_PHONE", "phone is not a valid number for its region")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_birthdate(value: Any, today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        date = value
    elif isinstance(value, str):
        try:
            date = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise _err("birthdate", "INVALID_DATE", "birthdate must be a date YYYY-MM-DD") from None
    else:
        raise _err("birthdate", "INVALID_TYPE", "birthdate must be a date")
    age = today.year - date.year - ((today.month, today.day) < (date.month, date.day))
    if date > today or age > MAX_AGE_YEARS:
        raise _err("birthdate", "IMPLAUSIBLE_DATE", "birthdate is not plausible")
    if age < MIN_AGE_YEARS:
        raise _err("birthdate", "TOO_YOUNG", f"members must be at least {MIN_AGE_YEARS}")
    return date.isoformat()


def normalise_language(value: Any) -> str:
    text = _text("preferred_language", value, 35)
    if not LANGUAGE_TAG.match(text):
        raise _err("preferred_language", "INVALID_LANGUAGE",
                   "preferred_language must be a BCP 47 tag such as en or fr-CA")
    parts = text.split("-")
    return "-".join([parts[0].lower(), *[p.upper() if len(p) == 2 else p for p in parts[1:]]])


def normalise_address(value: Any) -> str:
    field = "postal_address"
    if not isinstance(value, Mapping):
        raise _err(field, "INVALID_TYPE", "postal_address must be an object")
    unknown = set(value) - ADDRESS_KEYS
    if unknown:
        raise _err(field, "UNKNOWN_FIELD",
                   f"postal_address has unknown fields: {', '.join(sorted(unknown))}")
    lines = value.get("lines")
    if not isinstance(lines, list) or not 1 <= len(lines) <= 3:
        raise _err(field, "INVALID_ADDRESS", "postal_address.lines must hold 1 to 3 lines")
    clean: dict[str, Any] = {
        "lines": [_text(f"{field}.lines", line, MAX_ADDRESS_LINE) for line in lines]
    }
    for key in ("locality", "region", "postal_code"):
        if value.get(key) is not None:
            clean[key] = _text(f"{field}.{key}", value[key], 100)
    if "locality" not in clean:
        raise _err(field, "INVALID_ADDRESS", "postal_address.locality is required")
    country = value.get("country")
    if not isinstance(country, str) or not COUNTRY.match(country.strip().upper()):
        raise _err(field, "INVALID_ADDRESS", "postal_address.country must be ISO 3166 alpha-2")
    clean["country"] = country.strip().upper()
    return orjson.dumps(clean, option=orjson.OPT_SORT_KEYS).decode()


def normalise_preferences(value: Any) -> str:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _err("preferences", "INVALID_TYPE", "preferences must be an object")
    try:
        encoded = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        raise _err("preferences", "INVALID_TYPE", "preferences must be JSON") from None
    if len(encoded) > MAX_PREFERENCES_BYTES:
        raise _err("preferences", "TOO_LONG",
                   f"preferences must be at most {MAX_PREFERENCES_BYTES} bytes as JSON")
    return encoded.decode()


def normalise_member(data: Mapping[str, Any], *, default_region: str, partial: bool,
                     today: dt.date | None = None) -> dict[str, str | None]:
    """Validate a registration (``partial=False``) or an update (``partial=True``).

    Returns normalised text per field (``None`` clears an optional field on update).
    Raises :class:`ValidationFailed` listing every problem at once.
    """
    problems: list[IdentityError] = []
    unknown = set(data) - REGISTRATION_FIELDS
    for name in sorted(unknown):
        problems.append(_err(name, "UNKNOWN_FIELD", f"unknown field {name}"))
    if not partial:
        for name in sorted(REQUIRED_FIELDS - {k for k, v in data.items() if v is not None}):
            problems.append(_err(name, "REQUIRED", f"{name} is required"))
    result: dict[str, str | None] = {}
    for name, value in data.items():
        if name in unknown:
            continue
        if value is None:
            if name in REQUIRED_FIELDS:
                if partial:
                    problems.append(_err(name, "REQUIRED", f"{name} cannot be removed"))
                continue
            result[name] = None
            continue
        try:
            result[name] = _normalise_one(name, value, default_region, today)
        except IdentityError as exc:
            problems.append(exc)
    if problems:
        raise ValidationFailed(problems)
    return result


def _normalise_one(name: str, value: Any, default_region: str, today: dt.date | None) -> str:
    if name in ("given_name", "family_name"):
        return _text(name, value, MAX_NAME)
    if name == "email":
        return normalise_email(value)
    if name == "phone":
        return normalise_phone(value, default_region)
    if name == "birthdate":
        return normalise_birthdate(value, today)
    if name == "postal_address":
        return normalise_address(value)
    if name == "preferred_language":
        return normalise_language(value)
    return normalise_preferences(value)
