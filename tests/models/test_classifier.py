"""Classifiers of labels: the ODE-Net of the digits spec and the ResNet built around its stem
and head; parameter counts, residual blocks, evaluation, and a short training run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import odedsl
from odedsl.compiler import build_data, compile
from odedsl.models.classifier import LabelClassifier
from odedsl.models.resnet import ResidualBlock, ResNetClassifier
from odedsl.training import TensorBatches, TrainConfig, train
from odedsl.training.config import OptimizerConfig

DIGITS = Path(__file__).parents[2] / "specs" / "odenet_digits.ode"
FAST = {"method": "rk4", "step_size": 0.5}  # 2 RK4 steps: the block's cheapest faithful solve


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def odenet() -> nn.Module:
    return compile(DIGITS, **FAST)


def test_odenet_parameters_are_what_check_reports(odenet):
    # `odedsl check` prints "parameters  20,042"; the compiled module holds exactly that many.
    assert count(odenet) == odedsl.check(DIGITS).parameter_count == 20_042


def test_resnet_parameters_follow_the_block_formula(odenet):
    resnet = ResNetClassifier(
        odenet.initial, odenet.observations[0].reader, channels=32, depth=6, groups=8
    )
    # A block: two 3×3 convolutions 32 → 32 with biases and two GroupNorms (scale and shift).
    block = 2 * (32 * 32 * 9 + 32) + 2 * (2 * 32)
    stem_and_head = count(odenet.initial) + count(odenet.observations[0].reader)
    assert count(resnet) == stem_and_head + 6 * block == 112_522


def test_residual_block_is_the_identity_plus_its_branch():
    torch.manual_seed(0)
    block = ResidualBlock(8, groups=2)
    h = torch.randn(3, 8, 5, 5)
    branch = block.conv2(torch.relu(block.norm2(block.conv1(torch.relu(block.norm1(h))))))
    torch.testing.assert_close(block(h), h + branch)
    with torch.no_grad():  # a zero last convolution leaves only the skip connection
        block.conv2.weight.zero_()
        block.conv2.bias.zero_()
    torch.testing.assert_close(block(h), h)


def test_resnet_refuses_no_blocks(odenet):
    with pytest.raises(ValueError, match="depth"):
        ResNetClassifier(odenet.initial, odenet.observations[0].reader, channels=32, depth=0)


class FixedLogits(LabelClassifier):
    """Logits given by a table: row i of the table for input value i."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = nn.Parameter(table)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.table[x.long().flatten()]


def test_evaluate_counts_errors_and_averages_cross_entropy():
    table = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    model = FixedLogits(table)
    x, y = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([0, 1, 1])
    result = model.evaluate([{"x": x[:2], "y": y[:2]}, {"x": x[2:], "y": y[2:]}])
    # Input 2 (label 1) is misclassified as 0: one error in three.
    assert result["test_error"] == pytest.approx(1 / 3)
    expected = torch.nn.functional.cross_entropy(table, y).item()
    assert result["loss"] == pytest.approx(expected)


def test_a_short_run_lowers_the_loss_and_records_evaluations(tmp_path):
    model = compile(DIGITS, **FAST, seed=0)
    examples = build_data(model.spec, "train").tensors
    subset = {key: value[:64] for key, value in examples.items()}
    data = TensorBatches(subset, 32, seed=0)
    before = model.evaluate(subset)["loss"]
    config = TrainConfig(optimizer=OptimizerConfig("Adam", {"lr": 1e-2}), steps=20, log_every=5)
    train(model, data, config, tmp_path / "run")
    after = model.evaluate(subset)["loss"]
    # An untrained 10-class model starts near log 10 ≈ 2.3. This architecture leaves that
    # plateau slowly (its global mean pool over 8 × 8 positions averages most of a digit's
    # layout away until the convolutions learn it): 20 Adam steps on 64 images lower the loss
    # by 0.13 at this seed. A wrong gradient (sign, scale or missing parameters) would not.
    assert before > 2.0 and after < before - 0.05
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    # Two RK4 steps: 8 evaluations forward, and the adjoint's 8 backward.
    assert [(r["nfe_forward"], r["nfe_backward"]) for r in records] == [(8.0, 8.0)] * 4
