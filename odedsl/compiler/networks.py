"""Networks of a checked spec built from the layer library (``odedsl.nn.layers``).

Each checked :class:`~odedsl.lang.model.Layer` already holds resolved sizes; this module only
maps it onto the library's constructor (a ``PlanarFlow`` onto
:class:`~odedsl.models.planar.PlanarLayers`, parameters ``N(0, 0.1²)``). Weights take the
library's (PyTorch's) default initialisation from the global generator, which
:func:`odedsl.compiler.compile` seeds.

``BUILDERS`` holds one builder per layer of the language catalogue (``builtins.LAYERS``), plus
``Activation`` (an activation written by name in a ``Chain``): a new layer is one catalogue
entry, one ``@builds`` function here and its module in the layer library.
``tests/test_catalogues.py`` keeps the two name sets equal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import nn

from odedsl.compiler.codegen import LoweringError
from odedsl.lang import model as ir
from odedsl.models.planar import PlanarLayers
from odedsl.nn import layers

Builder = Callable[[ir.Layer, Mapping[str, object]], nn.Module]
BUILDERS: dict[str, Builder] = {}
"""Layer name → its builder, called with the checked layer and its arguments."""


def builds(*names: str) -> Callable[[Builder], Builder]:
    """Register the decorated function as the builder of the layers ``names``."""

    def register(builder: Builder) -> Builder:
        for name in names:
            if name in BUILDERS:
                raise ValueError(f"the layer {name} already has a builder")
            BUILDERS[name] = builder
        return builder

    return register


def build_network(layer: ir.Layer) -> nn.Module:
    """The module for ``layer`` (a Chain builds its children in order)."""
    builder = BUILDERS.get(layer.kind)
    if builder is None:
        raise LoweringError(f"the layer library has no layer {layer.kind}", layer.loc)
    return builder(layer, layer.args)


@builds("Chain")
def _chain(layer: ir.Layer, a: Mapping[str, object]) -> nn.Module:
    return layers.Chain(*(build_network(child) for child in layer.children))


@builds("Activation")
def _activation(layer: ir.Layer, a: Mapping[str, object]) -> nn.Module:
    return layers.activation(str(a["fn"]))


@builds("Dense")
def _dense(layer: ir.Layer, a: Mapping[str, object]) -> nn.Module:
    return layers.Dense(_int(a["in"]), _int(a["out"]), str(a["act"]))


@builds("MLP")
def _mlp(layer: ir.Layer, a: Mapping[str, object]) -> nn.Module:
    return layers.MLP([_int(s) for s in a["sizes"]], str(a["act"]), str(a["out"]))  # type: ignore[attr-defined]


@builds("Conv", "ConcatConv")
def _conv(layer: ir.Layer, a: Mapping[str, object]) -> nn.Module:
    constructor = layers.Conv if layer.kind == "Conv" else layers.ConcatConv
    sizes = (_int(a[name]) for name in ("in", "out", "kernel", "stride"))
    return constructor(*sizes, pad=_int(a["pad"]))


@builds("GroupNorm")
def _group_norm(layer: ir.Layer, a: Mapping[str, object]) -> nn.Module:
    if a.get("channels") is None:
        raise LoweringError(
            "the number of channels of this GroupNorm is unknown: call the network on an "
            "input whose channels are known",
            layer.loc,
        )
    return layers.GroupNorm(_int(a["groups"]), _int(a["channels"]))


@builds("GlobalMeanPool")
def _global_mean_pool(layer: ir.Layer, a: Mapping[str, object]) -> nn.Module:
    return layers.GlobalMeanPool()


@builds("Flatten")
def _flatten(layer: ir.Layer, a: Mapping[str, object]) -> nn.Module:
    return layers.Flatten()


@builds("PlanarFlow")
def _planar_flow(layer: ir.Layer, a: Mapping[str, object]) -> nn.Module:
    return PlanarLayers(_int(a["dim"]), _int(a["depth"]))


_RECURRENT = {"RNN": layers.RNN, "GRU": layers.GRU, "ODERNN": layers.ODERNN}


@builds(*_RECURRENT)
def _recurrent(layer: ir.Layer, a: Mapping[str, object]) -> nn.Module:
    return _RECURRENT[layer.kind](_int(a["in"]), _int(a["hidden"]), _int(a["out"]))


def _int(value: object) -> int:
    if type(value) is not int:
        raise ValueError(f"a layer size must be an int, got {value!r}")
    return value
