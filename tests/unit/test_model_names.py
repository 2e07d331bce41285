"""The domain model's names load on first use (PEP 562, ADR 0039): the three lists that say
so (the TYPE_CHECKING imports, `__all__` and `_MODULE_OF`) must name the same things."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import partner_ingest.domain.model as model


def _type_checking_names() -> dict[str, str]:
    tree = ast.parse(Path(model.__file__).read_text())
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.level == 1, ast.dump(statement)
                for alias in statement.names:
                    names[alias.asname or alias.name] = str(statement.module)
    return names


def test_every_exported_name_is_mapped_to_the_module_the_type_checker_imports_it_from() -> None:
    assert set(model.__all__) == set(model._MODULE_OF)
    assert _type_checking_names() == model._MODULE_OF


def test_every_exported_name_loads_as_the_object_its_module_holds() -> None:
    for name, module in model._MODULE_OF.items():
        assert getattr(model, name) is getattr(importlib.import_module(f"{model.__name__}.{module}"), name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        model.NoSuchThing  # noqa: B018
