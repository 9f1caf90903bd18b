"""Load less of Powertools at cold start, without changing what any import gives.

`aws_lambda_powertools.event_handler/__init__.py` imports every resolver it ships (AppSync,
Bedrock, VPC Lattice, ...) and with them asyncio: ~45 % of the event handler's import time,
measured here, for classes this function never uses. `defer_package_init` registers the
package as a module whose `__init__` runs on first use of a name it defines (PEP 562 module
`__getattr__`), so `from ...event_handler.api_gateway import APIGatewayRestResolver` loads only
what it needs, and `from ...event_handler import AppSyncResolver` still works, later, unchanged.

The resolver itself imports seven event classes by name from
`aws_lambda_powertools.utilities.data_classes`, whose `__init__` imports all ~40 of them. For a
name the `__init__` binds with one `from .submodule import name` (read from its source, never
run), the deferred package imports that submodule only. Any other name runs the whole `__init__`.

The Logger imports `jmespath_utils` (and with it jmespath and gzip) for correlation-id paths this
function does not use; deferred the same way, it runs on the Logger's first use of a JMESPath.
The standard library's `importlib.util.LazyLoader` does not serve here: any attribute access
loads the module, and every later `import` statement reads its `__spec__`.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from typing import Any


def _submodule_exports(init_file: str | None) -> dict[str, tuple[str, str]]:
    """{name: (submodule, attribute)} for names the `__init__` binds once, by `from .submodule import attribute`."""
    if not init_file or not init_file.endswith(".py"):
        return {}
    try:
        tree = ast.parse(Path(init_file).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return {}
    exports: dict[str, tuple[str, str]] = {}
    bound_elsewhere: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module and "." not in node.module:
            for alias in node.names:
                local = alias.asname or alias.name
                if local in exports or alias.name == "*":
                    bound_elsewhere.add(local)
                exports[local] = (node.module, alias.name)
        else:  # anything else that may bind a name (assignments, defs, other imports, conditionals)
            for child in ast.walk(node):
                if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                    bound_elsewhere.add(child.id)
                elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    bound_elsewhere.add(child.name)
                elif isinstance(child, (ast.Import, ast.ImportFrom)):
                    bound_elsewhere.update((alias.asname or alias.name).split(".")[0] for alias in child.names)
    return {name: target for name, target in exports.items() if name not in bound_elsewhere}


def defer_package_init(name: str) -> None:
    """No-op when the package is already imported (then there is nothing left to save)."""
    if name in sys.modules:
        return
    spec = _spec_without_parents(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader
    exports = _submodule_exports(spec.origin)

    def load_on_first_use(attribute: str) -> Any:
        if not attribute.startswith("__"):
            target = exports.get(attribute)
            if target is not None:
                value = getattr(importlib.import_module(f"{name}.{target[0]}"), target[1])
                module.__dict__[attribute] = value
                return value
            if importlib.util.find_spec(f"{name}.{attribute}") is not None:
                return importlib.import_module(f"{name}.{attribute}")  # `from package import submodule`
        del module.__dict__["__getattr__"]
        loader.exec_module(module)  # the package's own __init__, in the module already in sys.modules
        return getattr(module, attribute)

    module.__dict__["__getattr__"] = load_on_first_use
    sys.modules[name] = module
    parent_name, _, child = name.rpartition(".")
    if parent_name:  # the parents' own __init__ may import this package: it finds the deferred one
        setattr(importlib.import_module(parent_name), child, module)


def _spec_without_parents(name: str) -> importlib.machinery.ModuleSpec | None:
    """`find_spec(name)` without importing the parent packages (whose `__init__` may import `name` itself)."""
    top, *rest = name.split(".")
    spec = importlib.util.find_spec(top)
    for part in rest:
        if spec is None or spec.submodule_search_locations is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(f"{spec.name}.{part}", list(spec.submodule_search_locations))
    return spec


def defer_unused_powertools() -> None:
    """What this function imports from Powertools but does not run at cold start (idempotent; jmespath_utils
    first: Powertools' package `__init__` imports the Logger, which imports it)."""
    defer_package_init("aws_lambda_powertools.utilities.jmespath_utils")  # the Logger's correlation-id paths
    defer_package_init("aws_lambda_powertools.event_handler")  # skips AppSync, Bedrock, asyncio and co.
    defer_package_init("aws_lambda_powertools.utilities.data_classes")  # only the event classes the resolver names
