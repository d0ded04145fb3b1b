"""``nn.Module`` wrappers of generated functions, owning the parameters and networks they read.

The spec's parameters and networks are created once (:class:`Parts`) and registered in every
generated function that reads them, so a solver's adjoint finds exactly the dynamics' own
parameters (``func.parameters()``) and ``model.to(device)`` moves everything once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from odedsl.compiler.networks import build_network
from odedsl.compiler.parameters import create_parameters
from odedsl.compiler.program import Program
from odedsl.lang import model as ir
from odedsl.symbolic.names import mangle


class Parts:
    """The spec's free parameters (``p_*``) and networks (``net_*``), created from ``seed``:
    parameters from their own generator, networks from the global one, seeded here and
    restored afterwards (so compiling leaves the caller's random stream untouched)."""

    def __init__(self, spec: ir.CheckedModel, seed: int) -> None:
        self.members: dict[str, nn.Module | nn.Parameter] = {}
        for name, parameter in create_parameters(spec, seed).items():
            self.members[mangle("p_", name)] = parameter
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for network in spec.networks:
                self.members[mangle("net_", network.name)] = build_network(network.layer)

    def select(self, names: Sequence[str]) -> dict[str, nn.Module | nn.Parameter]:
        return {name: self.members[name] for name in names}


def _flatten(args: tuple) -> list:
    """Tuple arguments (several states) spread into positional ones."""
    flat = []
    for arg in args:
        flat.extend(arg if isinstance(arg, tuple) else (arg,))
    return flat


class GeneratedFunction(nn.Module):
    """A generated function ``name`` of the program, called with this module as ``m``."""

    def __init__(self, program: Program, name: str, parts: Parts) -> None:
        super().__init__()
        for attribute, member in parts.select(program.members[name]).items():
            setattr(self, attribute, member)
        self.name = name
        self.program = program
        self.function: Callable = program.function(name)

    def __getstate__(self) -> dict:
        # The function lives in a module made by exec, which pickle cannot import by name:
        # keep the program's text instead and execute it again on load (torch.save(model)).
        state = self.__dict__.copy()
        del state["function"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.function = self.program.function(self.name)

    def forward(self, *args: Tensor | tuple[Tensor, ...]):
        return self.function(self, *_flatten(args))

    def extra_repr(self) -> str:
        return f"generated {self.name}()"


class SequenceEncoder(nn.Module):
    """The generated ``encoder`` in the call form of :class:`~odedsl.models.latent.LatentODE`:
    ``(values, times, mask)`` of series read backwards. The spec reads them forwards (and
    writes ``reverse`` itself), so they are turned around first; ``roles`` orders the
    function's arguments (``"times"`` or ``"series"``).

    Padding: the spec's expression has no mask, so the steps whose ``mask`` is false enter it
    as NaN (values and times), which travels through ``reverse`` and elementwise operations;
    a sequence network skips such steps (:func:`odedsl.nn.ops.sequence_network`). An
    expression that mixes steps outside a sequence network (a sum over time) would turn the
    NaN into its output: that is refused with an error rather than letting padding change
    the result."""

    def __init__(self, function: GeneratedFunction, roles: Sequence[str]) -> None:
        super().__init__()
        self.function = function
        self.roles = tuple(roles)

    def forward(self, values: Tensor, times: Tensor, mask: Tensor | None = None) -> Tensor:
        padded = mask is not None and not bool(mask.all())
        if padded:
            missing = ~mask.to(torch.bool)
            values = values.masked_fill(missing[..., None], float("nan"))
            times = times.masked_fill(missing, float("nan"))
        given: Mapping[str, Tensor] = {"times": times.flip(1), "series": values.flip(1)}
        out = self.function(*(given[role] for role in self.roles))
        if padded and not bool(torch.isfinite(out).all()):
            raise ValueError(
                "the encoder reads padded or missing steps outside a sequence network "
                "(RNN, GRU, ODERNN): only those skip them; pass the series to one first"
            )
        return out
