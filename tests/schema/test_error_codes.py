"""Every code a domain error can carry is a value of the SDL's ``ErrorCode`` enum.

The source of every package is read (not run): each construction of a ``DomainError``
subclass, or of a helper returning one, with a literal code, and each ``code = "..."``
default of such a class, must name an ``ErrorCode``. A new refusal with a new code fails
here until the code is added to the enum (and documented in docs/api.md#errors).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from schema.errors import REFUSALS, ErrorCode
from vaultkernel.errors import DomainError

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [p.name for p in ROOT.iterdir()
            if (p / "__init__.py").exists() and p.name not in {"tests", "bench"}]
CODE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
KNOWN = {c.value for c in ErrorCode}


def _import_everything() -> None:
    """Every module below the composition root (which defines no domain error)."""
    for package in PACKAGES:
        if package == "membervault":
            continue
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            importlib.import_module(info.name)


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _sources() -> Iterator[tuple[Path, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, ast.parse(path.read_text(), str(path))


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _literals(node: ast.expr) -> Iterator[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.IfExp):
        yield from _literals(node.body)
        yield from _literals(node.orelse)


def codes_in_source() -> set[tuple[str, str]]:
    """(code, where) for every literal code given to a domain error in the code base."""
    _import_everything()
    errors = {cls.__name__ for cls in _subclasses(DomainError)} | {"DomainError"}
    parsed = list(_sources())
    makers = set(errors)  # helpers that build a domain error: ``def _err(...) -> IdentityError``
    for _, tree in parsed:
        for node in ast.walk(tree):
            if (isinstance(node, ast.FunctionDef) and node.returns is not None
                    and _name(node.returns) in errors):
                makers.add(node.name)
            if isinstance(node, ast.Constant) and node.value in errors:
                makers.add(node.value)
    found: set[tuple[str, str]] = set()
    for path, tree in parsed:
        where = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in makers:
                values = [*node.args, *(k.value for k in node.keywords if k.arg == "code")]
                found |= {(v, f"{where}:{node.lineno}") for arg in values
                          for v in _literals(arg) if CODE.match(v)}
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1
                  and _name(node.targets[0]) == "code"):
                found |= {(v, f"{where}:{node.lineno}") for v in _literals(node.value)
                          if CODE.match(v)}
    return found


def test_every_code_a_domain_error_raises_is_in_the_enum() -> None:
    found = codes_in_source()
    assert len({code for code, _ in found}) > 40, "the scan found too few codes to be right"
    unknown = sorted(f"{code} ({where})" for code, where in found if code not in KNOWN)
    assert not unknown, f"codes missing from schema.errors.ErrorCode: {unknown}"


def test_every_domain_error_class_default_is_in_the_enum() -> None:
    _import_everything()
    defaults = {cls.__name__: cls.code for cls in _subclasses(DomainError)
                if "code" in vars(cls)}
    assert {name: code for name, code in defaults.items() if code not in KNOWN} == {}


@pytest.mark.parametrize("code", sorted(REFUSALS))
def test_the_refusals_are_codes(code: str) -> None:
    assert code in KNOWN


def test_every_code_is_documented() -> None:
    api = (ROOT / "docs" / "api.md").read_text()
    errors = api[api.index("## Errors"):]
    assert [c.value for c in ErrorCode if f"`{c.value}`" not in errors] == []


def test_the_enum_is_in_the_sdl() -> None:
    sdl = (ROOT / "schema" / "schema.graphql").read_text()
    block = sdl[sdl.index("enum ErrorCode {"):]
    block = block[:block.index("}")]
    assert {line.strip() for line in block.splitlines()[1:] if CODE.match(line.strip())} == KNOWN
    assert "code: ErrorCode!" in sdl
