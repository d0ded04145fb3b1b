"""Generated source executed as a real, importable module.

``torch.compile`` (dynamo) resolves a function's globals by importing the module its
``__name__`` names, so code made by ``exec`` must live in a module registered in
``sys.modules``. Each execution gets a fresh name, so two programs never share globals.
"""

from __future__ import annotations

import itertools
import sys
import types
from typing import Any

_COUNTER = itertools.count()


def execute_as_module(source: str, filename: str, prefix: str, **globals_: Any) -> dict[str, Any]:
    """Execute ``source`` as a new module named ``{prefix}_{n}`` holding ``globals_``, register
    it in ``sys.modules``, and return its namespace."""
    module = types.ModuleType(f"{prefix}_{next(_COUNTER)}")
    module.__dict__.update(globals_)
    exec(compile(source, filename, "exec"), module.__dict__)
    sys.modules[module.__name__] = module
    return module.__dict__
