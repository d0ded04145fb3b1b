"""Networks of a checked spec built from the layer library (``odedsl.nn.layers``).

Each checked :class:`~odedsl.lang.model.Layer` already holds resolved sizes; this module only
maps it onto the library's constructor (a ``PlanarFlow`` onto
:class:`~odedsl.models.planar.PlanarLayers`, parameters ``N(0, 0.1²)``). Weights take the
library's (PyTorch's) default initialisation from the global generator, which
:func:`odedsl.compiler.compile` seeds.
"""

from __future__ import annotations

from torch import nn

from odedsl.compiler.codegen import LoweringError
from odedsl.lang import model as ir
from odedsl.models.planar import PlanarLayers
from odedsl.nn import layers


def build_network(layer: ir.Layer) -> nn.Module:
    """The module for ``layer`` (a Chain builds its children in order)."""
    a = layer.args
    kind = layer.kind
    if kind == "Chain":
        return layers.Chain(*(build_network(child) for child in layer.children))
    if kind == "Activation":
        return layers.activation(str(a["fn"]))
    if kind == "Dense":
        return layers.Dense(_int(a["in"]), _int(a["out"]), str(a["act"]))
    if kind == "MLP":
        return layers.MLP([_int(s) for s in a["sizes"]], str(a["act"]), str(a["out"]))  # type: ignore[attr-defined]
    if kind in ("Conv", "ConcatConv"):
        constructor = layers.Conv if kind == "Conv" else layers.ConcatConv
        sizes = (_int(a[name]) for name in ("in", "out", "kernel", "stride"))
        return constructor(*sizes, pad=_int(a["pad"]))
    if kind == "GroupNorm":
        if a.get("channels") is None:
            raise LoweringError(
                "the number of channels of this GroupNorm is unknown: call the network on an "
                "input whose channels are known",
                layer.loc,
            )
        return layers.GroupNorm(_int(a["groups"]), _int(a["channels"]))
    if kind == "GlobalMeanPool":
        return layers.GlobalMeanPool()
    if kind == "Flatten":
        return layers.Flatten()
    if kind == "PlanarFlow":
        return PlanarLayers(_int(a["dim"]), _int(a["depth"]))
    if kind in ("RNN", "GRU", "ODERNN"):
        constructor = {"RNN": layers.RNN, "GRU": layers.GRU, "ODERNN": layers.ODERNN}[kind]
        return constructor(_int(a["in"]), _int(a["hidden"]), _int(a["out"]))
    raise LoweringError(f"the layer library has no layer {kind}", layer.loc)


def _int(value: object) -> int:
    if type(value) is not int:
        raise ValueError(f"a layer size must be an int, got {value!r}")
    return value
