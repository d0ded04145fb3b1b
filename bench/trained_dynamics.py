"""Export a trained latent ODE's dynamics for ``bench/adams.py``: the weights of its MLP and
the posterior means of two test series as starting points.

    odedsl train specs/latent_spirals.ode --seed 0 --out runs/spirals
    python bench/trained_dynamics.py runs/spirals     # writes bench/data/latent_spirals_mlp.npz

The file holds ``weight_k``, ``bias_k`` of each dense layer (ELU between them, none after the
last) and ``y0`` (2, L): what ``bench/adams.py`` integrates as "a trained MLP dynamics".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import odedsl
from odedsl.compiler import build_data
from odedsl.models.series import Observations

OUT = Path(__file__).resolve().parent / "data" / "latent_spirals_mlp.npz"


def dense_layers(dynamics: nn.Module) -> list[nn.Linear]:
    """The dense layers of a latent model's MLP dynamics, refused unless ELU sits between
    them (the form ``bench/adams.py`` evaluates)."""
    layers = [m for m in dynamics.modules() if isinstance(m, nn.Linear)]
    activations = [m for m in dynamics.modules() if isinstance(m, (nn.ELU, nn.Tanh, nn.ReLU))]
    if not layers or len(activations) != len(layers) - 1:
        raise SystemExit("the run's dynamics must be one MLP with an activation between layers")
    if not all(isinstance(a, nn.ELU) for a in activations):
        raise SystemExit("the run's dynamics must use ELU (act = :elu)")
    return layers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a latent ODE's run folder")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    model = odedsl.load(args.run).double()
    test = build_data(model.spec, "test")
    observations = Observations.of(test["ts"][:2], test["x"][:2], None, model.log_noise)
    with torch.no_grad():
        mean, _ = model.encode(observations)
    arrays = {"y0": mean.numpy()}
    for k, layer in enumerate(dense_layers(model.field.dynamics)):
        arrays[f"weight_{k}"] = layer.weight.detach().numpy()
        arrays[f"bias_{k}"] = layer.bias.detach().numpy()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **arrays)
    print(f"wrote {args.out}: {len(arrays) // 2} layers, y0 {tuple(mean.shape)}")


if __name__ == "__main__":
    main()
