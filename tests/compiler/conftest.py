from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """One intra-op thread (``tests/conftest.py``): the tensors here are small, and on a
    shared machine a second thread per process costs far more in contention than it gains."""
