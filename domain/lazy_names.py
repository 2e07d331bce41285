"""A package's public names imported from their modules on first access (PEP 562, ADR 0042).

`domain.model`, `domain.use_cases`, `ports` and `plugins` each list their names and the module
holding each, and take their module `__getattr__` from here: a process that uses one name does
not load every module of the package. A name found is kept in the package's namespace, so the
next access is a plain attribute read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["on_first_access"]


def on_first_access(
    package: str, module_of: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """The `__getattr__` of `package`: `module_of` maps each public name to the module that holds
    it, a submodule of `package` when written without a dot ("jobs"), else its full name."""

    def __getattr__(name: str) -> Any:  # noqa: ANN401 - whichever class, function or constant the name is
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module if "." in module else f"{package}.{module}"), name)
        namespace[name] = value
        return value

    return __getattr__
