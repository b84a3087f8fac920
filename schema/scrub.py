"""Error messages never echo input values, and anonymous callers get no "did you mean"
hints about the schema where introspection is off (production).

graphql-core and strawberry's scalars quote the offending input in coercion and syntax
errors (``Value 'x' does not exist in 'DeliveryState' enum``, ``Value cannot represent a
DateTime: "x". ...``, ``... Did you mean 'email'? Found: {...the whole input...}``); such
a value may be personal (an e-mail sent where a date belongs), so the part that shows it
is cut off. Names (types, fields, arguments, variables) stay: they say what was wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_Replacement = str | Callable[[re.Match[str]], str]

_CUTS: tuple[tuple[re.Pattern[str], _Replacement], ...] = (
    # "Value 'x' does not exist in 'DeliveryState' enum."
    (re.compile(r"\bValue '.*' (does not exist in '\w+' enum)", re.DOTALL), r"Value \1"),
    # "String cannot represent a non string value: 4155550123",
    # "Value cannot represent a DateTime: "x". Expected 4 digits, got 'x'"
    (re.compile(r"(cannot represent [^:]*?): .*$", re.DOTALL), r"\1."),
    # "..., found: {...}.", "... Did you mean 'email'? Found: {...}.", "Expected Name, found
    # String 'x'." (any case: graphql-core writes "Found" after a suggestion)
    (re.compile(r"([,.?]) ?found:? .*$", re.DOTALL | re.IGNORECASE),
     lambda match: "?" if match[1] == "?" else "."),
    # "Syntax Error: Unexpected String 'x'."
    (re.compile(r"(Unexpected (?:String|BlockString|Int|Float)) .*$", re.DOTALL), r"\1."),
    # graphql-core 3.2: "Variable '$input' got invalid value {...}; Field 'x' is not ..."
    (re.compile(r"got invalid value .*$", re.DOTALL), "got an invalid value."),
)
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def scrub(message: str, *, suggestions: bool = True) -> str:
    """``message`` without the input values it quotes (and without suggestions unless
    ``suggestions``)."""
    for pattern, replacement in _CUTS:
        message = pattern.sub(replacement, message)
    if not suggestions:
        message = _SUGGESTION.sub("", message)
        if message and message[-1] not in ".?":
            message += "."
    return message
