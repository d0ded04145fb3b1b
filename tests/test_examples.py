"""The scripts in examples/ run end to end (shortened) and print what their docstrings promise."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parents[1] / "examples"


def run(name: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_cnf_in_python_trains_evaluates_and_samples() -> None:
    out = run("cnf_in_python.py", "--steps", "3")
    nll = float(re.search(r"test nll (\S+) nats", out).group(1))
    # three Adam steps from a near-identity flow: the NLL of the moons under ~N(0, I), about
    # 2 nats, finite and above the data's entropy (0.29 nats)
    assert 0.29 < nll < 3.0
    assert "1000 samples: mean" in out


def test_fit_trajectory_adjoint_gradient_matches_direct_backprop() -> None:
    out = run("fit_trajectory.py", "--iterations", "2")
    found = re.search(r"largest difference (\S+) \(largest entry (\S+)\)", out)
    difference, scale = float(found.group(1)), float(found.group(2))
    # rtol 1e-6 / atol 1e-8 forward and backward: the two gradients agree to ~1e-6 of their size
    assert scale > 0.1 and difference < 1e-4 * scale
    assert "fitted trajectory: mean absolute error" in out
