"""Cost of a compiled flow's augmented dynamics by trace strategy, and of generated code
against the same dynamics written by hand.

The gated CNF of ``specs/cnf_density.ode`` (M = 64 units) on states of D = 2 and D = 16, batch
512, float32, one thread: one evaluation of ``[dz, -tr ∂f/∂z]`` followed by a backward pass
of its sum (what a training step with direct gradients does per evaluation), median over
interleaved repeats. "hand-written" is the same dynamics and trace written directly in torch
(``(σ ⊙ tanh(zWᵀ + b)) U`` and ``Σ_n σ_n (1 − tanh²) u_n·w_n``).

Run from the repository root:  python bench/compiler.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from _common import interleaved_medians, markdown_table

from odedsl.compiler import compile

SPEC = (Path(__file__).parents[1] / "specs" / "cnf_density.ode").read_text()
BATCH = 512


def gated_spec(dim: int) -> str:
    return SPEC.replace("D = 2", f"D = {dim}")


def hand_written(model):
    f = model.generated["dynamics"]

    def dynamics(t, z):
        gate = f.net_gate(t.reshape(1, 1))[0]
        a = torch.tanh(z @ f.p_w.T + f.p_b)
        return (gate * a) @ f.p_u, (gate * (1 - a * a)) @ (f.p_u * f.p_w).sum(1)

    return dynamics


def step(function, t, z):
    def run():
        z.grad = None
        out = function(t, z)
        total = sum(o.sum() for o in out) if isinstance(out, tuple) else out.sum()
        total.backward()

    return run


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    for dim in (2, 16):
        text = gated_spec(dim)
        traces = ("symbolic", "exact", "hutchinson")
        models = {trace: compile(text, trace=trace) for trace in traces}
        z = torch.randn(BATCH, dim, requires_grad=True)
        t = torch.tensor(0.5)
        variants = {}
        for trace, model in models.items():
            state = model.augmented.initial_state(z.detach()).requires_grad_(True)
            variants[trace] = step(model.augmented, t, state)
        variants["hand-written"] = step(hand_written(models["symbolic"]), t, z)
        times = interleaved_medians(variants, repeats=30, inner=5)
        base = times["hand-written"]
        for name, seconds in times.items():
            rows.append((dim, name, seconds * 1e3, seconds / base))
    print(f"Command: python bench/compiler.py (torch {torch.__version__}, CPU, 1 thread)")
    print(markdown_table(["D", "variant", "ms per evaluation + backward", "× hand-written"], rows))


if __name__ == "__main__":
    main()
