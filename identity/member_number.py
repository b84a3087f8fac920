"""Member numbers: the public handle on a loyalty card. 12 digits, the last a Luhn check."""

from __future__ import annotations

import secrets

LENGTH = 12


def luhn_check_digit(payload: str) -> str:
    total = 0
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def generate() -> str:
    """A new random number. Luhn catches every adjacent transposition but 09 <-> 90, so
    numbers with a 0 and a 9 side by side are never issued (``normalise`` accepts them)."""
    while True:
        payload = str(secrets.randbelow(9 * 10 ** (LENGTH - 2)) + 10 ** (LENGTH - 2))
        number = payload + luhn_check_digit(payload)
        if "09" not in number and "90" not in number:
            return number


def normalise(value: str) -> str | None:
    """Digits only, or ``None`` when the number is malformed or its check digit is wrong."""
    # str.split() drops exactly the characters str.isspace() calls whitespace (in C: a
    # consent check normalises up to 10,000 numbers per call).
    digits = "".join(value.split()).replace("-", "")
    if len(digits) != LENGTH or not (digits.isascii() and digits.isdigit()):
        return None
    if luhn_check_digit(digits[:-1]) != digits[-1]:
        return None
    return digits
