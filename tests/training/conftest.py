from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Bit-identical comparisons across processes need the same reduction order: one thread
    everywhere (``tests/conftest.py``; the subprocesses set the same)."""
