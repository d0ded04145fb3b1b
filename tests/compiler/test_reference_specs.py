"""The compiled reference specs against hand-written torch with the same parameters.

Every comparison runs in float64 on the model's own weights, so the compiled code and the
reference differ only by the order of floating-point operations: 1e-10 is the tolerance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from odedsl.compiler import compile
from odedsl.data import potential

SPECS = Path(__file__).parents[2] / "specs"
TIGHT = {"rtol": 1e-10, "atol": 1e-10}


def compiled(name: str):
    return compile(SPECS / f"{name}.ode").double()


def mlp(net, x, act):
    """Linear layers of an MLP module with ``act`` between them (the output layer's own
    activation is applied by the caller)."""
    linears = [layer for layer in net if isinstance(layer, torch.nn.Linear)]
    for layer in linears[:-1]:
        x = act(x @ layer.weight.T + layer.bias)
    return x @ linears[-1].weight.T + linears[-1].bias


@pytest.fixture(scope="module", params=["cnf_moons", "cnf_density"])
def flow(request):
    return compiled(request.param)


def gated_reference(model, t, z):
    """dz/dt = Σ_n σ_n(t) u_n tanh(w_n'z + b_n) and its trace Σ_n σ_n (1 − tanh²) u_n'w_n."""
    f = model.generated["dynamics"]
    gate = torch.sigmoid(mlp(f.net_gate, t.reshape(1, 1), torch.tanh))[0]
    a = torch.tanh(z @ f.p_w.T + f.p_b)
    dz = (gate * a) @ f.p_u
    trace = (gate * (1 - a**2)) @ (f.p_u * f.p_w).sum(1)
    return dz, trace


def test_gated_flow_dynamics_and_symbolic_trace_match_the_reference(flow):
    torch.manual_seed(0)
    z = torch.randn(16, 2, dtype=torch.float64)
    t = torch.tensor(0.37, dtype=torch.float64)
    dz, trace = gated_reference(flow, t, z)
    torch.testing.assert_close(flow.generated["dynamics"](t, z), dz, **TIGHT)
    got_dz, got_trace = flow.generated["dynamics_and_trace"](t, z)
    torch.testing.assert_close(got_dz, dz, **TIGHT)
    torch.testing.assert_close(got_trace, trace, **TIGHT)
    assert flow.augmented.trace == "symbolic"


def test_density_target_is_u1():
    model = compiled("cnf_density")
    z = torch.randn(64, 2, dtype=torch.float64) * 2
    expected = torch.as_tensor(potential("U1", z.numpy()))
    torch.testing.assert_close(model.target(z), expected, **TIGHT)


def odenet_reference(f, t, h, groups):
    """GroupNorm, ReLU, ConcatConv twice, GroupNorm: the paper's ODE-Net block."""
    norms = [layer for layer in f.layers if isinstance(layer, torch.nn.GroupNorm)]
    convs = [layer.conv for layer in f.layers if hasattr(layer, "conv")]

    def norm(x, layer):
        return F.group_norm(x, groups, layer.weight, layer.bias, eps=1e-5)

    def concat_conv(x, conv):
        time = torch.full_like(x[:, :1], float(t))
        return F.conv2d(torch.cat([time, x], 1), conv.weight, conv.bias, padding=1)

    x = concat_conv(torch.relu(norm(h, norms[0])), convs[0])
    x = concat_conv(torch.relu(norm(x, norms[1])), convs[1])
    return norm(x, norms[2])


@pytest.mark.parametrize(
    ("name", "shape", "groups"),
    [("odenet_digits", (32, 8, 8), 32), ("odenet_mnist", (64, 6, 6), 32)],
)
def test_odenet_dynamics_match_the_reference(name, shape, groups):
    model = compiled(name)
    torch.manual_seed(1)
    h = torch.randn(3, *shape, dtype=torch.float64)
    t = torch.tensor(0.6, dtype=torch.float64)
    expected = odenet_reference(model.generated["dynamics"].net_f, t, h, groups)
    torch.testing.assert_close(model.dynamics(t, h), expected, **TIGHT)


def test_odenet_digits_stem_and_head_match_the_reference():
    # GroupNorm(32) on 32 channels: one channel a group
    model = compiled("odenet_digits")
    x = torch.rand(4, 1, 8, 8, dtype=torch.float64)
    stem = model.initial.net_down.layers
    conv, norm = stem[0], stem[1]
    h = torch.relu(
        F.group_norm(F.conv2d(x, conv.weight, conv.bias, padding=1), 32, norm.weight, norm.bias)
    )
    torch.testing.assert_close(model.initial(x), h, **TIGHT)
    head = model.observations[0].reader.net_head.layers
    pooled = torch.relu(F.group_norm(h, 32, head[0].weight, head[0].bias)).mean((2, 3))
    logits = pooled @ head[3][0].weight.T + head[3][0].bias
    torch.testing.assert_close(model.observations[0].reader(h), logits, **TIGHT)


# the decoder's hidden activation in each spec
DECODER_ACTIVATION = {"LatentSpirals": F.elu, "PoissonEvents": torch.relu}


@pytest.fixture(scope="module", params=["latent_spirals", "poisson_events"])
def latent(request):
    return compiled(request.param)


def test_latent_dynamics_decoder_and_intensity_match_the_reference(latent):
    activation = DECODER_ACTIVATION[latent.spec.name]
    size = latent.spec.states[0].shape[0]  # L
    z = torch.randn(5, 7, size, dtype=torch.float64)  # (samples, series, L): any leading axes
    t = torch.tensor(1.3, dtype=torch.float64)
    f = latent.generated["dynamics"].net_f
    torch.testing.assert_close(latent.field.dynamics(t, z), mlp(f, z, F.elu), **TIGHT)
    dec = latent.decoder.net_dec
    torch.testing.assert_close(latent.decoder(z), mlp(dec, z, activation), **TIGHT)
    if latent.field.has_intensity:
        rate = mlp(latent.field.intensity.net_rate, z, F.elu)
        torch.testing.assert_close(latent.field.log_intensity(z), rate[..., 0], **TIGHT)
        state = torch.cat([z[0], torch.zeros(7, 1, dtype=torch.float64)], -1)
        expected = torch.cat([mlp(f, z[0], F.elu), rate[0].exp()], -1)
        torch.testing.assert_close(latent.field(t, state), expected, **TIGHT)


def test_latent_encoder_reads_the_series_backwards(latent):
    """(μ, log σ²) = chunk(rec(reverse(x), reverse(ts)), 2) with σ = exp(½ log σ²): the
    model's encode() gives μ and log σ² of the recognition RNN run on the reversed series."""
    x = torch.randn(3, 6, 2, dtype=torch.float64)
    ts = torch.sort(torch.rand(3, 6, dtype=torch.float64), 1).values
    rec = latent.encoder.function.net_rec
    expected = rec(x.flip(1), ts.flip(1))
    from odedsl.models.series import Observations

    mean, logvar = latent.encode(Observations.of(ts, x, None, ts))
    torch.testing.assert_close(torch.cat([mean, logvar], -1), expected, **TIGHT)


def test_latent_loss_and_prediction_run(latent):
    from odedsl.compiler import build_data

    batch = next(iter(build_data(latent.spec)))
    batch = {k: v[:8].double() if v.is_floating_point() else v[:8] for k, v in batch.items()}
    output = latent.loss(batch)
    assert torch.isfinite(output.loss)
    output.loss.backward()
    prediction = latent.predict(batch["ts"], batch["x"], torch.linspace(0, 4, 5))
    assert prediction.shape == (8, 5, 2)
    assert np.isfinite(prediction.detach().numpy()).all()
