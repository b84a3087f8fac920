"""The GraphQL operations the docs show: ``graphql`` blocks (not the SDL excerpts) and the
``"query": "..."`` of every request body in any block, each with where it is."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from graphql import DocumentNode, OperationDefinitionNode, parse, print_ast

from tests.docs.blocks import Block, all_blocks

HEADER = """# The GraphQL operations the docs show, generated from docs/*.md: do not edit; run
# 'python -m tests.docs.operations > docs/operations.graphql' after changing a doc.
"""
BODY_QUERY = re.compile(r'"query":\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Operation:
    where: str
    text: str

    @property
    def document(self) -> DocumentNode:
        return parse(self.text)

    @property
    def definitions(self) -> list[OperationDefinitionNode]:
        return [d for d in self.document.definitions if isinstance(d, OperationDefinitionNode)]


def operations(blocks: list[Block] | None = None) -> Iterator[Operation]:
    for block in all_blocks() if blocks is None else blocks:
        if block.kind == "graphql" and block.variant != "sdl":
            yield Operation(block.where, block.text)
        for found in BODY_QUERY.finditer(block.text):
            yield Operation(block.where, json.loads(f'"{found.group(1)}"'))


def collected() -> str:
    """Every named operation the docs show, once each, in the order first shown: the
    text of docs/operations.graphql, from which clients are generated (ariadne-codegen,
    pyproject.toml)."""
    seen: dict[str, str] = {}
    for operation in operations():
        for definition in operation.definitions:
            if definition.name is not None and definition.name.value not in seen:
                seen[definition.name.value] = print_ast(definition)
    return HEADER + "".join(f"\n# {name}\n{text}\n" for name, text in seen.items())


if __name__ == "__main__":  # python -m tests.docs.operations > docs/operations.graphql
    print(collected(), end="")
