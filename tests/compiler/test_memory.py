"""The memory a spec's parameters take: `check` warns with the estimate (W006), and `compile`
refuses before allocating what does not fit in the memory available (E101)."""

from __future__ import annotations

import pytest

from odedsl import machine
from odedsl.compiler import compile
from odedsl.errors import SpecError
from odedsl.lang import check

from .specs import flow_spec

# W: 10^10 numbers, 40 GB as float32; with its gradient and Adam's two moments, 160 GB. The
# gate network (1 => 8 => 4) adds 16 + 36 = 52 parameters.
HUGE = flow_spec("W * z", params="W :: Real[100000, 100000]", dim=100000)


@pytest.fixture
def memory(monkeypatch):
    def set_to(available: int) -> None:
        monkeypatch.setattr(machine, "available_memory", lambda: available)

    return set_to


def test_check_warns_with_the_estimate():
    # `check` printed "10,000,000,052 parameters" and said nothing more before.
    (warning,) = [w for w in check(HUGE).warnings if w.code == "W006"]
    assert "10,000,000,052 parameters: 40.0 GB of float32 weights, 160.0 GB to train" in (
        warning.message
    )
    assert (warning.line, warning.column) == (7, 9)  # the declaration of W
    assert "make `W` smaller" in warning.help


def test_the_estimate_follows_the_optimizer():
    # SGD without momentum keeps weights and gradients only: 2 × 40 GB
    spec = check(HUGE.replace("seed = 0", "seed = 0\n        optimizer = SGD(lr = 0.1)"))
    (warning,) = [w for w in spec.warnings if w.code == "W006"]
    assert "80.0 GB to train (weights and gradients)" in warning.message


def test_a_small_model_gets_no_warning():
    assert not [w for w in check(flow_spec("-z")).warnings if w.code == "W006"]


def test_compile_refuses_what_does_not_fit_before_allocating(memory):
    # 64 GB available < 160 GB: refused at once (allocating W would take 40 GB first).
    memory(64 * 10**9)
    with pytest.raises(SpecError) as caught:
        compile(HUGE)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E101" and (diagnostic.line, diagnostic.column) == (7, 9)
    assert "160.0 GB to train" in diagnostic.message
    assert "this machine has 64.0 GB available" in diagnostic.message
    assert "make `W` smaller" in diagnostic.help


def test_compile_builds_what_fits(memory):
    # W :: Real[1000, 1000]: 10^6 parameters, 16 MB to train with Adam
    spec = flow_spec("W * z", params="W :: Real[1000, 1000]", dim=1000, trace="hutchinson")
    memory(15 * 10**6)
    with pytest.raises(SpecError, match=r"16\.0 MB to train .* has 15\.0 MB available"):
        compile(spec)
    memory(17 * 10**6)
    assert compile(spec).generated["dynamics"].p_W.shape == (1000, 1000)
