"""The error tree: every exception the package defines descends from AfsError, and afs/errors.py's
docstring draws each of them where it is."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import afs
from afs import errors
from afs.errors import AfsError

# A program of its own (its errors stay inside it), and Alembic's entry, which runs on import.
_NOT_THE_PACKAGE = ("afs.build.vivado.emulator", "afs.catalog.migrations")


def _defined_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in pkgutil.walk_packages(afs.__path__, "afs."):
        if module.name.startswith(_NOT_THE_PACKAGE) or module.name.endswith("__main__"):
            continue
        loaded = importlib.import_module(module.name)
        for _, value in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.name:
                found[value.__name__] = value
    return found


def _drawn() -> dict[str, str | None]:
    """Each class the docstring's tree names, with the class drawn above it (its parent)."""
    doc = errors.__doc__ or ""
    tree = doc[doc.index("    AfsError\n") :].split("\n\n")[0].splitlines()
    parents: dict[str, str | None] = {"AfsError": None}
    above = {0: "AfsError"}  # the class drawn last at each level of the tree
    for line in tree[1:]:
        drawn = re.match(r"^[ │]*([├└])── (\w+)", line)
        if drawn is None:
            continue  # a description's second line
        level = (drawn.start(1) - 4) // 4 + 1
        name = drawn[2]
        if name == "client":  # a heading ("client side"): its children hang from its parent
            above[level] = above[level - 1]
            continue
        parents[name] = above[level - 1]
        above[level] = name
    return parents


def test_every_error_the_package_defines_is_an_afs_error() -> None:
    outside = sorted(
        name for name, cls in _defined_exceptions().items() if not issubclass(cls, AfsError)
    )
    assert outside == []


def test_the_docstring_draws_every_error_under_its_parent() -> None:
    defined = _defined_exceptions()
    drawn = _drawn()
    assert set(drawn) == set(defined), "the docstring's tree names exactly the classes there are"
    for name, parent in drawn.items():
        if parent is not None:
            nearest = next(
                cls.__name__ for cls in defined[name].__mro__[1:] if cls.__name__ in drawn
            )
            assert nearest == parent, f"{name} is drawn under {parent}, but derives from {nearest}"
