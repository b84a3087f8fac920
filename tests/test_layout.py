"""The layout rules of docs/architecture.md, checked."""

from __future__ import annotations

import ast
import importlib.metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KERNEL = "vaultkernel"
DOMAIN = ["identity", "consent", "audit", "export", "retention", "outbox", "subject_requests"]
ENTRYPOINTS = "schema"
COMPOSITION_ROOT = "membervault"
# Our top-level packages whose names unrelated PyPI distributions also use (the kernel's
# name was chosen to have none).
PYPI_NAMESPACE_CLASHES = ["schema", "identity", "consent", "export", "retention"]
OURS = {KERNEL, *DOMAIN, ENTRYPOINTS, COMPOSITION_ROOT}


def imports_of(package: str) -> set[str]:
    """Top-level names imported anywhere in the package, also inside functions and
    ``TYPE_CHECKING`` blocks (a hidden import is still a dependency)."""
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found - {package}


def test_the_kernel_imports_none_of_our_other_packages() -> None:
    assert not imports_of(KERNEL) & OURS


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_packages_never_import_the_graphql_layer(package: str) -> None:
    assert ENTRYPOINTS not in imports_of(package)


def test_schema_never_touches_sql() -> None:
    assert "sqlalchemy" not in imports_of(ENTRYPOINTS)


@pytest.mark.parametrize("package", sorted(OURS - {COMPOSITION_ROOT}))
def test_nothing_imports_the_composition_root(package: str) -> None:
    assert COMPOSITION_ROOT not in imports_of(package)


@pytest.mark.parametrize("package", [KERNEL, *DOMAIN])
def test_kernel_and_domain_packages_do_not_know_graphql_or_http(package: str) -> None:
    assert not imports_of(package) & {"strawberry", "graphql", "starlette"}


@pytest.mark.parametrize("name", [*PYPI_NAMESPACE_CLASHES, KERNEL])
def test_no_unrelated_pypi_distribution_shadows_a_top_level_package(name: str) -> None:
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return
    pytest.fail(f"the PyPI distribution {dist.metadata['Name']} is installed beside membervault")


@pytest.mark.parametrize("name", [*PYPI_NAMESPACE_CLASHES, KERNEL])
def test_top_level_packages_come_from_this_repository(name: str) -> None:
    module = __import__(name)
    assert Path(module.__file__ or "").resolve().is_relative_to(ROOT)
