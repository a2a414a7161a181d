"""Make `billing` the real package while these tests import it.

Why: pytest puts `tests/` on sys.path (rootdir conftest, no `__init__.py`), so `tests/billing/`
becomes a *namespace* package named `billing` that shadows the editable-installed one. Its
direct submodules still resolve through the editable finder, but `billing.reconcile` resolves
to this very folder, and `billing.reconcile.periods` then fails to import. Until the project
sets `pythonpath = ["."]` for pytest, re-import the real package in front of the namespace.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[3]


def _use_real_billing() -> None:
    current = sys.modules.get("billing")
    if current is not None and getattr(current, "__file__", None):
        return  # already the real package
    if str(_ROOT) not in sys.path:
        sys.path.insert(0, str(_ROOT))
    shadowed = {name: mod for name, mod in sys.modules.items() if name == "billing" or name.startswith("billing.")}
    # Drop the namespace entries (and anything imported through them); keep real modules.
    for name, mod in shadowed.items():
        if name == "billing" or getattr(mod, "__file__", None) is None:
            del sys.modules[name]
    real = importlib.import_module("billing")
    for name, mod in list(sys.modules.items()):  # re-attach submodules imported before the fix
        parent, _, child = name.rpartition(".")
        if parent == "billing" and not hasattr(real, child):
            setattr(real, child, mod)


_use_real_billing()
