"""The layout rules of docs/architecture.md, checked."""

from __future__ import annotations

import ast
import importlib.metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ["identity", "consent", "audit", "export", "retention"]
PYPI_NAMESPACE_CLASHES = ["schema", "identity", "consent", "export", "retention"]


def imports_of(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_packages_do_not_know_graphql_or_http(package: str) -> None:
    assert not imports_of(package) & {"strawberry", "graphql", "starlette", "schema"}


def test_schema_never_touches_sql() -> None:
    assert "sqlalchemy" not in imports_of("schema")


@pytest.mark.parametrize("name", PYPI_NAMESPACE_CLASHES)
def test_no_unrelated_pypi_distribution_shadows_a_top_level_package(name: str) -> None:
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return
    pytest.fail(f"the PyPI distribution {dist.metadata['Name']} is installed beside membervault")


@pytest.mark.parametrize("name", PYPI_NAMESPACE_CLASHES)
def test_top_level_packages_come_from_this_repository(name: str) -> None:
    module = __import__(name)
    assert Path(module.__file__ or "").resolve().is_relative_to(ROOT)
