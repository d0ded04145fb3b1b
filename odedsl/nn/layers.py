"""The layer library: ``torch.nn`` modules for the spec language's network catalogue.

Every constructor takes resolved integer sizes (the compiler resolves ``Dense(2 => 64, tanh)``
to ``Dense(2, 64, "tanh")``). Weights use PyTorch's default initialisation (Kaiming-uniform
weights, uniform biases, GroupNorm scale 1 and shift 0) drawn from the global generator, so a
model built after ``torch.manual_seed(seed)`` is reproducible. Parameter counts, with ``act``
never adding any:

| layer | parameters |
|---|---|
| ``Dense(i, o)`` | ``i·o + o`` |
| ``MLP([s0, s1, …, sL])`` | ``Σ_l s_(l−1)·s_l + s_l`` |
| ``Conv(i, o, k)`` | ``i·o·k² + o`` |
| ``ConcatConv(i, o, k)`` | ``(i + 1)·o·k² + o`` |
| ``GroupNorm(g, c)`` | ``2c`` |
| ``RNN(i, h, o)`` | ``(i + g + h)·h + h + h·o + o`` |
| ``GRU(i, h, o)`` | ``3((i + g)·h + h² + 2h) + h·o + o`` |
| ``ODERNN(i, h, o)`` | GRU's count ``+ 2·h·u + u + h`` (ODE net ``MLP([h, u, h])``) |

with ``u = h`` unless ``units`` is given, and ``g = 1`` when the recurrent layer takes the
time gap as an extra input (``time_gap``), else 0. Layers that depend on time (``ConcatConv``,
``Chain`` holding one) are called as ``layer(t, x)``; the others as ``layer(x)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import get_close_matches
from itertools import pairwise

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from odedsl.solvers import solve

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "identity": nn.Identity,
}


def activation(name: str) -> nn.Module:
    """The activation module called ``name`` (relu, tanh, sigmoid, softplus, elu, identity)."""
    if name not in ACTIVATIONS:
        close = get_close_matches(str(name), ACTIVATIONS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown activation {name!r}: use one of {sorted(ACTIVATIONS)}{hint}")
    return ACTIVATIONS[name]()


def _check_sizes(layer: str, **sizes: int) -> None:
    for name, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"{layer}: {name} must be a positive int, got {size!r}")


def takes_time(layer: nn.Module) -> bool:
    """Whether ``layer`` is called as ``layer(t, x)``."""
    return getattr(layer, "takes_time", False)


class Dense(nn.Sequential):
    """``Dense(in => out, act)``: a linear map, then ``act``."""

    def __init__(self, in_features: int, out_features: int, act: str = "identity") -> None:
        _check_sizes("Dense", in_features=in_features, out_features=out_features)
        super().__init__(nn.Linear(in_features, out_features), activation(act))


class MLP(nn.Sequential):
    """``MLP(s0 => s1 => … => sL, act = :tanh, out = :identity)``: linear maps between
    consecutive sizes, ``act`` after each hidden one and ``out`` after the last."""

    def __init__(self, sizes: Sequence[int], act: str = "tanh", out: str = "identity") -> None:
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least an input and an output size, got {sizes}")
        _check_sizes("MLP", **{f"sizes[{n}]": size for n, size in enumerate(sizes)})
        layers: list[nn.Module] = []
        for n, (size_in, size_out) in enumerate(pairwise(sizes)):
            layers.append(nn.Linear(size_in, size_out))
            layers.append(activation(out if n == len(sizes) - 2 else act))
        super().__init__(*layers)


class Chain(nn.Module):
    """``Chain(l1, l2, …)``: the layers in order. Called as ``chain(t, x)`` or ``chain(x)``;
    ``t`` reaches the layers that take time (then it is required) and is ignored otherwise."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        if not layers:
            raise ValueError("Chain: needs at least one layer")
        self.layers = nn.ModuleList(layers)
        self.takes_time = any(takes_time(layer) for layer in layers)

    def forward(self, *args: Tensor) -> Tensor:
        if self.takes_time:
            if len(args) != 2:
                raise TypeError("this Chain holds a time-dependent layer: call it as chain(t, x)")
            t, x = args
        else:
            (x,) = args[-1:]
            t = None
        for layer in self.layers:
            x = layer(t, x) if takes_time(layer) else layer(x)
        return x


class Conv(nn.Conv2d):
    """``Conv(in => out, kernel, stride = 1, pad = 0)``: a 2-D convolution, kernel×kernel."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, pad: int = 0
    ) -> None:
        _check_sizes(
            "Conv", in_channels=in_channels, out_channels=out_channels, kernel=kernel, stride=stride
        )
        super().__init__(in_channels, out_channels, kernel, stride=stride, padding=pad)


class ConcatConv(nn.Module):
    """``ConcatConv(in => out, kernel, stride = 1, pad = 0)``: appends t as a constant first
    channel, then convolves ``in + 1`` channels to ``out`` (the paper's ODE-Net layer).

    Computed without the concatenation, by linearity: the state's channels convolved with
    their part of the kernel, plus ``t`` times the time channel's kernel convolved with one
    image of ones (which carries the zero padding's border effects); about a quarter faster
    forward and backward than convolving the concatenated tensor."""

    takes_time = True

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, pad: int = 0
    ) -> None:
        super().__init__()
        _check_sizes("ConcatConv", in_channels=in_channels, out_channels=out_channels)
        self.conv = Conv(in_channels + 1, out_channels, kernel, stride=stride, pad=pad)

    def forward(self, t: Tensor | float, h: Tensor) -> Tensor:
        conv = self.conv
        weight = conv.weight
        state = F.conv2d(h, weight[:, 1:], conv.bias, conv.stride, conv.padding)
        ones = torch.ones_like(h[:1, :1])
        time = F.conv2d(ones, weight[:, :1], None, conv.stride, conv.padding)
        return state + time * t


class GroupNorm(nn.GroupNorm):
    """``GroupNorm(groups)`` over ``channels`` channels (the compiler supplies them)."""

    def __init__(self, groups: int, channels: int) -> None:
        _check_sizes("GroupNorm", groups=groups, channels=channels)
        if channels % groups:
            raise ValueError(f"GroupNorm: {channels} channels do not split into {groups} groups")
        super().__init__(groups, channels)


class GlobalMeanPool(nn.Module):
    """``GlobalMeanPool()``: the mean over every axis after the channels, (B, C, …) → (B, C)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(2).mean(-1)


class Flatten(nn.Flatten):
    """``Flatten()``: (B, …) → (B, prod …)."""


class _RecurrentEncoder(nn.Module):
    """A recurrent cell run over an irregular series, then a linear read-out.

    ``forward(values (B, N, in), times (B, N), mask (B, N)) -> (B, out)`` reads the steps in
    the order given (the caller reverses the series to read it backwards) from a zero hidden
    state. A step whose mask is false (padding) leaves the state untouched; no mask means every
    step is observed. The time gap of a step is its time minus that of the series' previous
    observed step (0 for the first; negative when read backwards); with ``time_gap`` it is
    appended to the step's input. ``times`` may be left out where nothing uses them.
    """

    needs_times = False

    def __init__(self, in_features: int, hidden: int, out_features: int, time_gap: bool) -> None:
        super().__init__()
        _check_sizes(
            type(self).__name__, in_features=in_features, hidden=hidden, out_features=out_features
        )
        self.in_features, self.hidden = in_features, hidden
        self.time_gap = time_gap
        self.readout = nn.Linear(hidden, out_features)

    @property
    def cell_inputs(self) -> int:
        return self.in_features + int(self.time_gap)

    def step(self, x: Tensor, h: Tensor, gap: Tensor) -> Tensor:
        """The hidden state after an observation ``x`` that came ``gap`` after the last one."""
        raise NotImplementedError

    def forward(
        self, values: Tensor, times: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        batch, steps, features = values.shape
        if times is None:
            if self.needs_times or self.time_gap:
                raise ValueError(f"{type(self).__name__}: needs the times of the steps")
            times = values.new_zeros(batch, steps)
        if features != self.in_features or times.shape != (batch, steps):
            raise ValueError(
                f"{type(self).__name__}: values must have shape (B, N, {self.in_features}) and "
                f"times (B, N), got {tuple(values.shape)} and {tuple(times.shape)}"
            )
        if mask is None:
            mask = torch.ones(batch, steps, dtype=torch.bool, device=values.device)
        mask = mask.to(torch.bool)
        h = values.new_zeros(batch, self.hidden)
        last = times[:, 0]
        seen = torch.zeros_like(mask[:, 0])
        for n in range(steps):
            observed = mask[:, n]
            gap = torch.where(seen & observed, times[:, n] - last, torch.zeros_like(last))
            x = values[:, n]
            if self.time_gap:
                x = torch.cat([x, gap[:, None]], dim=1)
            h = torch.where(observed[:, None], self.step(x, h, gap), h)
            last = torch.where(observed, times[:, n], last)
            seen = seen | observed
        return self.readout(h)


class RNN(_RecurrentEncoder):
    """``RNN(in => hidden => out)``: the Elman cell ``h ← tanh(W [x; h] + b)``."""

    def __init__(self, in_features: int, hidden: int, out_features: int, time_gap: bool = False):
        super().__init__(in_features, hidden, out_features, time_gap)
        self.cell = nn.Linear(self.cell_inputs + hidden, hidden)

    def step(self, x: Tensor, h: Tensor, gap: Tensor) -> Tensor:
        return torch.tanh(self.cell(torch.cat([x, h], dim=1)))


class GRU(_RecurrentEncoder):
    """``GRU(in => hidden => out)``: a gated recurrent unit (``torch.nn.GRUCell``)."""

    def __init__(self, in_features: int, hidden: int, out_features: int, time_gap: bool = False):
        super().__init__(in_features, hidden, out_features, time_gap)
        self.cell = nn.GRUCell(self.cell_inputs, hidden)

    def step(self, x: Tensor, h: Tensor, gap: Tensor) -> Tensor:
        return self.cell(x, h)


class ODERNN(GRU):
    """``ODERNN(in => hidden => out)``: between observations the hidden state follows
    ``dh/dt = MLP([hidden, units, hidden], tanh)(h)`` for the time gap, solved by
    ``odedsl.solvers.solve`` (odedsl's defaults, not ``odeint``'s torchdiffeq ones) with
    ``method`` (and ``rtol``, ``atol``, ``options``); at each observation a GRU update
    (Rubanova et al. 2019).

    Each series has its own gap, so the solve runs in rescaled time s ∈ [0, 1] with
    ``dh/ds = gap · f(h)``: one batched solve per step, exact for every series, and a padded
    step (gap 0) leaves the state unchanged.
    """

    needs_times = True

    def __init__(
        self,
        in_features: int,
        hidden: int,
        out_features: int,
        time_gap: bool = False,
        units: int | None = None,
        method: str = "dopri5",
        rtol: float = 1e-3,
        atol: float = 1e-4,
        options: dict | None = None,
    ) -> None:
        super().__init__(in_features, hidden, out_features, time_gap)
        self.ode = MLP([hidden, units or hidden, hidden], act="tanh")
        self.method, self.rtol, self.atol, self.options = method, rtol, atol, options

    def step(self, x: Tensor, h: Tensor, gap: Tensor) -> Tensor:
        return self.cell(x, self.evolve(h, gap))

    def evolve(self, h: Tensor, gap: Tensor) -> Tensor:
        """The hidden state ``gap`` later under the ODE (each row its own gap)."""
        if not bool((gap != 0).any()):
            return h
        span = torch.tensor([0.0, 1.0], dtype=h.dtype, device=h.device)
        path = solve(
            lambda s, y: gap[:, None] * self.ode(y),
            h,
            span,
            method=self.method,
            rtol=self.rtol,
            atol=self.atol,
            options=self.options,
        ).ys
        return path[-1]
