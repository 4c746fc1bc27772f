"""The examples in the normalize docstrings run and stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "idgraph.normalize.countries",
    "idgraph.normalize.fields",
    "idgraph.normalize.junk",
    "idgraph.normalize.nicknames",
    "idgraph.normalize.record",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_package_exports():
    import idgraph.normalize as package

    for name in package.__all__:
        assert getattr(package, name) is not None
