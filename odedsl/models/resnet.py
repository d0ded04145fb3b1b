"""The ResNet of the Neural ODE paper's Table 1: the ODE-Net with its ODE block replaced by a
stack of residual blocks (Chen et al. 2018, Section 3).

A block is the paper's ``ResBlock``: ``h + conv(relu(norm(conv(relu(norm(h))))))`` with 3×3
convolutions that keep the channels and the image size, and GroupNorm. Each block has its own
parameters, so memory and parameters grow with the depth, where the ODE-Net's do not.
"""

from __future__ import annotations

from torch import Tensor, nn

from odedsl.nn.layers import Conv, GroupNorm

from .classifier import LabelClassifier


class ResidualBlock(nn.Module):
    """``h + conv₂(relu(norm₂(conv₁(relu(norm₁(h))))))`` on ``channels`` channels."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm1 = GroupNorm(groups, channels)
        self.conv1 = Conv(channels, channels, 3, pad=1)
        self.norm2 = GroupNorm(groups, channels)
        self.conv2 = Conv(channels, channels, 3, pad=1)

    def forward(self, h: Tensor) -> Tensor:
        inner = self.conv1(self.norm1(h).relu())
        return h + self.conv2(self.norm2(inner).relu())


class ResNetClassifier(LabelClassifier):
    """``readout(blocks(encoder(x)))`` with ``depth`` residual blocks of ``channels`` channels.

    ``encoder`` and ``readout`` are the ODE-Net's stem and head (``model.initial`` and
    ``model.observations[0].reader`` of a compiled ODE-Net), so the two models differ only in
    their middle.
    """

    def __init__(
        self,
        encoder: nn.Module,
        readout: nn.Module,
        *,
        channels: int,
        depth: int = 6,
        groups: int = 8,
        likelihood: str = "categorical",
        input_key: str = "x",
        label_key: str = "y",
    ) -> None:
        super().__init__(likelihood=likelihood, input_key=input_key, label_key=label_key)
        if depth < 1:
            raise ValueError(f"depth must be a positive number of residual blocks, got {depth}")
        self.encoder = encoder
        self.blocks = nn.Sequential(*(ResidualBlock(channels, groups) for _ in range(depth)))
        self.readout = readout

    def forward(self, x: Tensor) -> Tensor:
        """Logits (batch, classes)."""
        return self.readout(self.blocks(self.encoder(self._cast(x))))
