"""The layout rules of docs/architecture.md, checked."""

from __future__ import annotations

import ast
import importlib.metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KERNEL = "vaultkernel"
# The domain packages, each importing only those before it (see
# test_the_domain_packages_come_in_one_order).
DOMAIN = ["audit", "identity", "outbox", "consent", "export", "retention", "subject_requests"]
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


def a_cycle(graph: dict[str, set[str]]) -> list[str]:
    """Some cycle of ``graph`` (``[a, b, ..., a]``), or ``[]`` when it has none."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str]:
        if node in path:
            return [*path[path.index(node):], node]
        if node in done:
            return []
        for target in sorted(graph[node]):
            cycle = visit(target, [*path, node])
            if cycle:
                return cycle
        done.add(node)
        return []

    for start in sorted(graph):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return []


def test_our_packages_import_one_another_without_a_cycle() -> None:
    """No import cycle between top-level packages, whether through the layers or among
    the domain packages. What results is one order, each package importing only those
    before it:

    vaultkernel <- audit <- identity <- outbox <- consent <- export <- retention
    <- subject_requests <- schema <- membervault

    What a lower package needs from a higher one is passed in by the composition root
    (``ErasureKit.access_requests``, ``SweepKit.handlers``) or taken by a protocol
    (``export.package.RequestHistory``), never imported."""
    cycle = a_cycle({package: imports_of(package) & OURS for package in OURS})
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_the_domain_packages_come_in_one_order() -> None:
    """Each domain package imports only the domain packages listed before it in
    ``DOMAIN`` (the order in docs/architecture.md)."""
    upward = {package: sorted(imports_of(package) & set(DOMAIN[index:]))
              for index, package in enumerate(DOMAIN)}
    assert {package: found for package, found in upward.items() if found} == {}


def test_a_cycle_is_found() -> None:
    assert a_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert a_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_the_kernel_imports_none_of_our_other_packages() -> None:
    assert not imports_of(KERNEL) & OURS


@pytest.mark.parametrize("package", DOMAIN)
def test_domain_packages_never_import_the_graphql_layer(package: str) -> None:
    assert ENTRYPOINTS not in imports_of(package)


def test_schema_never_touches_sql() -> None:
    assert "sqlalchemy" not in imports_of(ENTRYPOINTS)


def access_log_writes_in(directory: Path) -> list[str]:
    """Where the package writes the access log itself: ``<reader log>.record(...)`` or
    ``<...>.access_log.append(...)`` (the audit trail's ``trail.record`` is another log)."""
    found = []
    for path in sorted(directory.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                receiver = ast.unparse(node.func.value)
                if ((node.func.attr == "record" and receiver != "trail")
                        or (node.func.attr == "append" and receiver.endswith("access_log"))):
                    found.append(f"{path.relative_to(directory)}:{node.lineno}: {receiver}")
    return found


@pytest.mark.parametrize("package", [ENTRYPOINTS, COMPOSITION_ROOT])
def test_no_entrypoint_writes_the_access_log_itself(package: str) -> None:
    """Rule 2 by structure: resolvers and handlers hand a reader's log to the use case,
    which records before it returns values; they never record themselves."""
    assert access_log_writes_in(ROOT / package) == []


def test_an_entrypoint_writing_the_access_log_is_found(tmp_path: Path) -> None:
    (tmp_path / "view.py").write_text(
        "def f(ctx, services):\n    ctx.reads.record('p', [])\n"
        "    services.access_log.append('a', 'p', [], 'r')\n    trail.record(1)\n"
        "    items.append(2)\n")
    assert [f.split(": ")[1] for f in access_log_writes_in(tmp_path)] == [
        "ctx.reads", "services.access_log"]


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


# Test folders that test no one package: the attack replay runs the whole service.
CROSS_CUTTING_TESTS = {"attacks"}


def test_tests_mirror_the_packages_they_test() -> None:
    """``tests/<path>/`` tests ``<path>/`` (``tests/membervault/web/`` the privacy centre
    in ``membervault/web/``); only the cross-cutting suites stand on their own."""
    tests = ROOT / "tests"
    strays = sorted(
        str(folder.relative_to(ROOT))
        for folder in tests.rglob("*")
        if folder.is_dir() and any(folder.glob("test_*.py"))
        and folder.relative_to(tests).parts[0] not in CROSS_CUTTING_TESTS
        and not (ROOT / folder.relative_to(tests)).is_dir())
    assert strays == [], "move each to tests/<path of the package it tests>/"
