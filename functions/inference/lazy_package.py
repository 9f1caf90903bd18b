"""Import one submodule of a package without running the package's `__init__` first.

`aws_lambda_powertools.event_handler/__init__.py` imports every resolver it ships (AppSync,
Bedrock, VPC Lattice, ...) and with them asyncio: ~45 % of the event handler's import time,
measured here, for classes this function never uses. `defer_package_init` registers the
package as a module whose `__init__` runs on first use of a name it defines (PEP 562 module
`__getattr__`), so `from ...event_handler.api_gateway import APIGatewayRestResolver` loads only
what it needs, and `from ...event_handler import AppSyncResolver` still works, later, unchanged.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any


def defer_package_init(name: str) -> None:
    """No-op when the package is already imported (then there is nothing left to save)."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def load_on_first_use(attribute: str) -> Any:
        if not attribute.startswith("__") and importlib.util.find_spec(f"{name}.{attribute}") is not None:
            return importlib.import_module(f"{name}.{attribute}")  # `from package import submodule`
        del module.__dict__["__getattr__"]
        loader.exec_module(module)  # the package's own __init__, in the module already in sys.modules
        return getattr(module, attribute)

    module.__dict__["__getattr__"] = load_on_first_use
    sys.modules[name] = module
