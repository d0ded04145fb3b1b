"""Data parallelism: two gloo processes train exactly like one process on the global batch."""

from __future__ import annotations

import torch

from odedsl.training import RunFolder, read_checkpoint, run_training, train

from .workers import ode_config, ode_data, ode_model, ode_setup


def test_two_processes_match_one_process_on_the_global_batch(tmp_path):
    """``run_training(nproc=2)`` (gloo on CPU: no GPU per process here) against ``train``.

    A neural ODE trained through the adjoint (its gradients come from a custom autograd
    Function), 2 epochs of 3 shuffled batches of 16 rows: two processes with 8 rows each, their
    gradients averaged by DistributedDataParallel, against one process with all 16 rows.

    Fixed-step RK4 in float64 makes each row's result independent of its batch-mates, so the
    two runs differ only in the order of floating-point sums (~1e-16 relative), far inside the
    1e-5 asked for; unaveraged or unsynchronised gradients would differ at the 1e-2 level.
    """
    status = run_training(ode_setup, tmp_path / "two", config=ode_config(), nproc=2)
    assert status == 0
    single = ode_model()
    train(single, ode_data(), ode_config(), tmp_path / "one")

    two = read_checkpoint(tmp_path / "two" / "checkpoint.pt")
    assert two["step"] == 6 and len(two["processes"]) == 2
    for name, value in single.state_dict().items():
        torch.testing.assert_close(two["model"][name], value, rtol=0, atol=1e-5)
    assert not torch.equal(two["model"]["f.0.weight"], ode_model().state_dict()["f.0.weight"])
    # Only rank 0 wrote the log: one line per step, each the mean over both processes.
    logged = RunFolder(tmp_path / "two").read_metrics()
    reference = RunFolder(tmp_path / "one").read_metrics()
    assert [r["step"] for r in logged] == list(range(1, 7))
    for ours, theirs in zip(logged, reference, strict=True):
        assert abs(ours["loss"] - theirs["loss"]) <= 1e-12 * theirs["loss"]
        assert ours["nfe_forward"] == theirs["nfe_forward"] == 16  # 4 RK4 steps
        assert ours["nfe_backward"] == theirs["nfe_backward"]
