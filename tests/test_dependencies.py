"""Every third-party module the product imports is a dependency it declares, so that an install
of the wheel alone has it (not only because Prefect happens to bring it)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPOSITORY = Path(__file__).parents[1]
PRODUCT = ("afs", "flows", "tasks", "deployments")


def _imported_top_level_modules() -> set[str]:
    modules = set()
    for package in PRODUCT:
        for path in (REPOSITORY / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - set(PRODUCT)


def _declared_distributions() -> set[str]:
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    names = (
        re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
        for requirement in project["dependencies"]
    )
    return {name.lower().replace("_", "-") for name in names}


def test_every_third_party_module_the_product_imports_is_declared() -> None:
    distributions = packages_distributions()
    undeclared = {
        module: distributions.get(module, ["(not installed)"])
        for module in _imported_top_level_modules()
        if not {name.lower().replace("_", "-") for name in distributions.get(module, [])}
        & _declared_distributions()
    }
    assert undeclared == {}
