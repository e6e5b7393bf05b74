"""The examples in docstrings run as written (every module of the package that has one)."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import oblige


def _modules() -> list[str]:
    names = ["oblige.cli"]
    for package in ("oblige.engine", "oblige.facts"):
        module = importlib.import_module(package)
        names += [m.name for m in pkgutil.walk_packages(module.__path__, package + ".")]
    return sorted(names)


WITH_EXAMPLES = [name for name in _modules()
                 if doctest.DocTestFinder().find(importlib.import_module(name)) and
                 any(t.examples for t in doctest.DocTestFinder().find(importlib.import_module(name)))]


def test_the_package_has_examples() -> None:
    assert oblige.__name__ == "oblige" and len(WITH_EXAMPLES) >= 4


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
