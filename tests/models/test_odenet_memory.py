"""An ODE-Net trained with the adjoint takes the same memory whatever its integration time;
backpropagating through the solver (an RK-Net) takes memory in proportion to the steps.

Each measurement runs in a fresh Python process with glibc told to map every block of 64 KiB
or more on its own (``MALLOC_MMAP_THRESHOLD_``), so freed tensors leave the resident set at
once and the peak resident set (VmHWM, reset through /proc/self/clear_refs) follows the live
tensors. One warm-up pass pays the one-time costs first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SPEC = Path(__file__).parents[2] / "specs" / "odenet_digits.ode"
MIB = 2**20

MEASURE = """
import json, sys, torch
from pathlib import Path
from odedsl.compiler import compile

def kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

torch.set_num_threads(1)
torch.manual_seed(0)
spec, gradient = sys.argv[1], sys.argv[2]
model = compile(spec, method="rk4", step_size=0.25, gradient=gradient)
batch = {"x": torch.rand(32, 1, 8, 8), "y": torch.randint(0, 10, (32,))}

def step(horizon):
    model.observations[0].time = horizon  # the label is read at T
    model.loss(batch).loss.backward()
    model.zero_grad(set_to_none=True)

step(1.0)  # warm-up
peaks = {}
for horizon in (1.0, 8.0):
    before = kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    step(horizon)
    peaks[horizon] = kib("VmHWM") - before
print(json.dumps(peaks))
"""


def start_measuring(gradient: str) -> subprocess.Popen:
    """A process printing the peak bytes above its resident set of one training step, at
    T = 1 and T = 8, as JSON."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "65536"}
    command = [sys.executable, "-c", MEASURE, str(SPEC), gradient]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def result(process: subprocess.Popen) -> dict[float, int]:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err.decode()
    return {float(k): v for k, v in json.loads(out.decode().splitlines()[-1]).items()}


@pytest.fixture(scope="module")
def peaks() -> dict[str, dict[float, int]]:
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("measuring peak memory needs Linux's /proc/self/clear_refs")
    processes = {gradient: start_measuring(gradient) for gradient in ("adjoint", "direct")}
    return {gradient: result(process) for gradient, process in processes.items()}


def test_adjoint_memory_does_not_grow_with_integration_time(peaks):
    # T = 8 takes 32 RK4 steps (128 evaluations) against 4 steps at T = 1. The adjoint keeps
    # one evaluation's graph at a time: the two peaks may differ by allocator noise only.
    adjoint = peaks["adjoint"]
    assert abs(adjoint[8.0] - adjoint[1.0]) < 8 * MIB


def test_direct_backpropagation_memory_grows_with_integration_time(peaks):
    # Backpropagating through the solver keeps every evaluation's activations: a convolution
    # layer's output for 32 images of 32 × 8 × 8 floats is 256 KiB and each evaluation keeps
    # several, so 112 more evaluations cost well over 100 MiB; the adjoint's peak stays below.
    direct, adjoint = peaks["direct"], peaks["adjoint"]
    assert direct[8.0] - direct[1.0] > 100 * MIB
    assert adjoint[8.0] < direct[8.0] / 4


if __name__ == "__main__":  # python -m tests.models.test_odenet_memory: the figures in MiB
    measured = {gradient: result(start_measuring(gradient)) for gradient in ("adjoint", "direct")}
    for gradient, peak in measured.items():
        print(gradient, ", ".join(f"T = {t:g}: {b / MIB:.2f} MiB" for t, b in peak.items()))
