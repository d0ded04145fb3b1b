"""The layer library: shapes, parameter counts, the time channel, recurrent masking."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from odedsl.lang.networks import count_parameters
from odedsl.nn.layers import (
    GRU,
    MLP,
    ODERNN,
    RNN,
    Chain,
    ConcatConv,
    Conv,
    Dense,
    Flatten,
    GlobalMeanPool,
    GroupNorm,
    activation,
)


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


@pytest.mark.parametrize(
    "layer, expected",
    [
        (Dense(2, 64, "tanh"), 2 * 64 + 64),
        (MLP([1, 32, 64], act="tanh", out="sigmoid"), (1 * 32 + 32) + (32 * 64 + 64)),
        (MLP([4, 20, 20, 4], act="elu"), (4 * 20 + 20) + (20 * 20 + 20) + (20 * 4 + 4)),
        (Conv(1, 32, 3, pad=1), 1 * 32 * 9 + 32),
        (ConcatConv(32, 32, 3, pad=1), 33 * 32 * 9 + 32),
        (GroupNorm(8, 32), 2 * 32),
        (RNN(2, 25, 8), (2 + 25) * 25 + 25 + 25 * 8 + 8),
        (RNN(2, 25, 8, time_gap=True), (3 + 25) * 25 + 25 + 25 * 8 + 8),
        (GRU(2, 25, 8), 3 * (2 * 25 + 25 * 25 + 2 * 25) + 25 * 8 + 8),
        (ODERNN(2, 25, 8), 3 * (2 * 25 + 25 * 25 + 2 * 25) + 25 * 8 + 8 + 2 * 25 * 25 + 25 + 25),
        (ODERNN(2, 25, 8, units=10), 3 * (2 * 25 + 625 + 50) + 25 * 8 + 8 + 2 * 25 * 10 + 10 + 25),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, nn.Module) else "",
)
def test_parameter_counts_follow_the_documented_formulas(layer, expected):
    assert count(layer) == expected


def test_paper_odenet_pieces_have_the_expected_shapes():
    x = torch.randn(3, 1, 8, 8)
    down = Chain(Conv(1, 32, 3, pad=1), GroupNorm(8, 32), activation("relu"))
    f = Chain(GroupNorm(8, 32), activation("relu"), ConcatConv(32, 32, 3, pad=1), GroupNorm(8, 32))
    head = Chain(GroupNorm(8, 32), activation("relu"), GlobalMeanPool(), Dense(32, 10))
    h = down(x)
    assert h.shape == (3, 32, 8, 8)
    assert f(torch.tensor(0.3), h).shape == (3, 32, 8, 8)
    assert head(h).shape == (3, 10)
    assert Flatten()(h).shape == (3, 32 * 64)
    assert Conv(32, 64, 4, stride=2, pad=1)(h).shape == (3, 64, 4, 4)


def test_mlp_applies_hidden_and_output_activations():
    mlp = MLP([1, 32, 5], act="tanh", out="sigmoid")
    assert [type(m) for m in mlp] == [nn.Linear, nn.Tanh, nn.Linear, nn.Sigmoid]
    assert ((mlp(torch.randn(7, 1)) > 0) & (mlp(torch.randn(7, 1)) < 1)).all()


def test_concat_conv_appends_t_as_a_constant_first_channel():
    """Only the time channel's kernel non-zero: each output is t · Σ kernel (no padding)."""
    layer = ConcatConv(2, 1, 3)
    with torch.no_grad():
        layer.conv.weight.zero_()
        layer.conv.bias.zero_()
        layer.conv.weight[0, 0] = torch.arange(9.0).reshape(3, 3)
    out = layer(torch.tensor(0.5), torch.randn(4, 2, 5, 5))
    torch.testing.assert_close(out, torch.full((4, 1, 3, 3), 0.5 * 36.0))


@pytest.mark.parametrize(("stride", "pad"), [(1, 0), (1, 1), (2, 1), (2, 2)])
def test_concat_conv_equals_convolving_the_concatenated_time_channel(stride, pad):
    """The layer skips the concatenation (linearity); values and gradients must equal the
    convolution of ``[t, h]`` on every border (float64, round-off only)."""
    generator = torch.Generator().manual_seed(3)
    layer = ConcatConv(3, 4, 3, stride=stride, pad=pad).double()
    h = torch.randn(2, 3, 7, 7, generator=generator, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    conv = layer.conv
    joined = torch.cat([torch.ones_like(h[:, :1]) * t, h], 1)
    expected = torch.nn.functional.conv2d(joined, conv.weight, conv.bias, stride, pad)
    out = layer(t, h)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    cotangent = torch.randn(out.shape, generator=generator, dtype=torch.float64)
    inputs = (h, t, conv.weight, conv.bias)
    got = torch.autograd.grad(out, inputs, cotangent)
    want = torch.autograd.grad(expected, inputs, cotangent)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_chain_with_a_time_layer_requires_t():
    chain = Chain(ConcatConv(1, 1, 1))
    with pytest.raises(TypeError, match=r"chain\(t, x\)"):
        chain(torch.randn(1, 1, 2, 2))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: activation("tahn"), "did you mean 'tanh'"),
        (lambda: MLP([3]), "at least an input and an output"),
        (lambda: Dense(0, 3), "in_features must be a positive int"),
        (lambda: GroupNorm(8, 12), "do not split into 8 groups"),
    ],
)
def test_bad_sizes_are_reported(make, message):
    with pytest.raises(ValueError, match=message):
        make()


RECURRENT = {
    "rnn": lambda: RNN(2, 6, 3, time_gap=True),
    "gru": lambda: GRU(2, 6, 3, time_gap=True),
    "odernn": lambda: ODERNN(2, 6, 3, method="rk4", options={"step_size": 0.25}),
}


@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_padding_does_not_change_a_series_result(name):
    """A 3-step series alone, or padded to 5 steps (one pad in the middle, one at the end)
    next to a different series, gives the same output: padded steps change nothing and time
    gaps are measured from the last observed step. float64 and fixed-step RK4 make the runs
    identical up to rounding."""
    layer = RECURRENT[name]().double()
    values = torch.randn(1, 3, 2, dtype=torch.float64)
    times = torch.tensor([[0.0, 0.4, 1.1]], dtype=torch.float64)
    alone = layer(values, times)

    padded_values = torch.randn(2, 5, 2, dtype=torch.float64)
    padded_values[0, [0, 2, 3]] = values[0]
    padded_times = torch.tensor([[0.0, 0.2, 0.4, 1.1, 9.0], [0.0, 0.3, 0.5, 0.7, 0.9]])
    mask = torch.tensor([[True, False, True, True, False], [True] * 5])
    together = layer(padded_values, padded_times.double(), mask)
    torch.testing.assert_close(together[0], alone[0])


@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_time_gaps_reach_the_state(name):
    layer = RECURRENT[name]()
    values = torch.randn(1, 3, 2)
    early = layer(values, torch.tensor([[0.0, 0.1, 0.2]]))
    late = layer(values, torch.tensor([[0.0, 0.5, 1.5]]))
    assert not torch.allclose(early, late)


def test_rnn_without_time_gap_ignores_times():
    layer = RNN(2, 6, 3)
    values = torch.randn(2, 4, 2)
    times = torch.rand(2, 4).cumsum(1)
    torch.testing.assert_close(layer(values, times), layer(values, 2 * times))


def test_odernn_evolves_the_hidden_state_by_its_ode():
    """With the ODE net's first layer zeroed, dh/dt = b2 (its last bias): h moves by gap · b2
    exactly, for each series' own gap; a zero gap leaves h unchanged."""
    layer = ODERNN(2, 4, 3, method="dopri5", rtol=1e-9, atol=1e-9).double()
    first, last = layer.ode[0], layer.ode[2]  # MLP: Linear, Tanh, Linear, Identity
    with torch.no_grad():
        first.weight.zero_()
        first.bias.zero_()
    h = torch.randn(3, 4, dtype=torch.float64)
    gap = torch.tensor([0.5, -1.0, 0.0], dtype=torch.float64)
    expected = h + gap[:, None] * last.bias
    torch.testing.assert_close(layer.evolve(h, gap), expected)


def test_odernn_with_a_still_ode_is_a_gru():
    gru = GRU(2, 5, 3)
    odernn = ODERNN(2, 5, 3, method="rk4", options={"step_size": 0.5})
    state = odernn.state_dict()
    state.update(gru.state_dict())  # the same GRU cell and read-out
    odernn.load_state_dict(state)
    with torch.no_grad():
        odernn.ode[2].weight.zero_()
        odernn.ode[2].bias.zero_()
    values, times = torch.randn(2, 4, 2), torch.rand(2, 4).cumsum(1)
    torch.testing.assert_close(odernn(values, times), gru(values, times))


def test_recurrent_layers_check_their_inputs():
    with pytest.raises(ValueError, match=r"values must have shape \(B, N, 2\)"):
        RNN(2, 4, 1)(torch.randn(3, 5, 3), torch.rand(3, 5))
    with pytest.raises(ValueError, match="needs the times"):
        ODERNN(2, 4, 1)(torch.randn(3, 5, 2))
    values = torch.randn(3, 5, 2)
    gru = GRU(2, 4, 1)
    torch.testing.assert_close(gru(values), gru(values, torch.rand(3, 5)))


@pytest.mark.parametrize(
    "kind, args, layer",
    [
        ("Dense", {"in": 2, "out": 64}, lambda: Dense(2, 64, "tanh")),
        ("MLP", {"sizes": (1, 32, 64)}, lambda: MLP([1, 32, 64])),
        ("Conv", {"in": 1, "out": 32, "kernel": 3}, lambda: Conv(1, 32, 3, pad=1)),
        ("ConcatConv", {"in": 32, "out": 32, "kernel": 3}, lambda: ConcatConv(32, 32, 3)),
        ("GroupNorm", {"groups": 8, "channels": 32}, lambda: GroupNorm(8, 32)),
        ("RNN", {"in": 2, "hidden": 25, "out": 8}, lambda: RNN(2, 25, 8)),
        ("GRU", {"in": 2, "hidden": 25, "out": 8}, lambda: GRU(2, 25, 8)),
        ("ODERNN", {"in": 2, "hidden": 25, "out": 8}, lambda: ODERNN(2, 25, 8)),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_parameter_counts_agree_with_the_checker(kind, args, layer):
    """`odedsl check` reports counts from odedsl.lang's formulas; the modules hold as many."""
    assert count(layer()) == count_parameters(kind, args)
