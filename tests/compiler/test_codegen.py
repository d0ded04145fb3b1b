"""Generated code: the language's expressions against numpy/torch written by hand, and code
built only from the compiler's own identifiers (a spec with hostile names and strings)."""

from __future__ import annotations

import builtins
import io
import keyword
import re
import tokenize

import numpy as np
import pytest
import torch

from odedsl.compiler import compile, generated_code

from .specs import flow_spec

# Each target is a scalar function of x ∈ R⁴ written in the spec language, with its meaning in
# numpy (1-based indices and inclusive ranges become 0-based slices; reshape is row-major).
TARGETS = {
    "generator variable as a value": (
        "sum(x[n] * n for n in 1:D)",
        lambda x: x @ np.arange(1, 5),
    ),
    "generator over part of an axis": (
        "sum(x[n]^2 for n in 2:3)",
        lambda x: x[:, 1] ** 2 + x[:, 2] ** 2,
    ),
    "nested generators": (
        "sum(sum(x[n] * x[k] * k for k in 1:2) for n in 3:4)",
        lambda x: x[:, 2:4].sum(1) * (x[:, 0] + 2 * x[:, 1]),
    ),
    "dot, norm and an index": ("dot(x, x) - norm(x)^2 + x[4]", lambda x: x[:, 3]),
    "row times matrix times vector": (
        "sum(x[1:2]' * reshape(x, 2, 2) * x[3:4])",
        lambda x: np.einsum("bi,bij,bj->b", x[:, :2], x.reshape(-1, 2, 2), x[:, 2:]),
    ),
    "matrix transpose": (
        "sum(reshape(x, 2, 2)' * x[1:2])",
        lambda x: np.einsum("bji,bj->b", x.reshape(-1, 2, 2), x[:, :2]),
    ),
    "slices and totals": ("sum(x[2:4]) / 3 - sum(x)", lambda x: x[:, 1:].sum(1) / 3 - x.sum(1)),
    "reverse": ("sum(reverse(x) * x)", lambda x: (x[:, ::-1] * x).sum(1)),
    "elementwise functions": (
        "sum(exp(-x^2) + log(1 + abs(x)) + sin(x) * cos(x) + sqrt(1 + x^2) + softplus(x)"
        " + sigmoid(x) + elu(x) + relu(x) + tanh(identity(x)))",
        lambda x: (
            np.exp(-(x**2))
            + np.log1p(np.abs(x))
            + np.sin(x) * np.cos(x)
            + np.sqrt(1 + x**2)
            + np.logaddexp(0, x)
            + 1 / (1 + np.exp(-x))
            + np.where(x > 0, x, np.expm1(x))
            + np.maximum(x, 0)
            + np.tanh(x)
        ).sum(1),
    ),
    "constants folded, negation, division": (
        "exp(1.0) + log(2.0) * tanh(0.5) + sqrt(4) * pi - (x[1] - x[2]) / (1 + x[3]^2)",
        lambda x: (
            np.e + np.log(2) * np.tanh(0.5) + 2 * np.pi - (x[:, 0] - x[:, 1]) / (1 + x[:, 2] ** 2)
        ),
    ),
}


@pytest.mark.parametrize("case", list(TARGETS))
def test_target_expressions_mean_what_they_say(case):
    text, meaning = TARGETS[case]
    model = compile(flow_spec("-z", dim=4, target=text)).double()
    x = np.random.default_rng(0).normal(size=(16, 4))
    got = model.target(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(got, meaning(x), rtol=1e-12, atol=1e-12)


def test_dynamics_with_matrices_reshape_and_partial_sums():
    params = "A :: Real[D, D]\nB :: Real[2, 2]\nc :: Real[M]\nd :: Real[D]"
    rhs = "A' * z + reshape(B * reshape(z, 2, 2), 4) + sum(c[n] * z for n in 2:3) + norm(z) * d"
    model = compile(flow_spec(rhs, params=params, dim=4, trace="exact")).double()
    f = model.generated["dynamics"]
    torch.manual_seed(2)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    z = torch.randn(8, 4, dtype=torch.float64)
    expected = (
        z @ f.p_A
        + (f.p_B @ z.reshape(-1, 2, 2)).reshape(-1, 4)
        + (f.p_c[1] + f.p_c[2]) * z
        + z.norm(dim=1, keepdim=True) * f.p_d
    )
    torch.testing.assert_close(f(torch.tensor(0.5), z), expected, rtol=1e-12, atol=1e-12)


def test_a_constant_derivative_is_broadcast_over_the_batch():
    model = compile(flow_spec("d", params="d :: Real[D]", trace="exact"))
    z = torch.randn(5, 3)
    dz = model.generated["dynamics"](torch.tensor(0.0), z)
    assert dz.shape == (5, 3)
    torch.testing.assert_close(dz, model.generated["dynamics"].p_d.expand(5, 3))


HOSTILE = r"""
model Hostile
    constants
        D = 2
        M = 3
    end
    data
        x :: Real[D] ~ CSV(path = "x.csv\"); __import__(\"os\").system(\"echo pwned\") #")
        batch = 4
    end
    params
        __import__ :: Real[M, D]
        os :: Real[M, D]
        exec :: Real[M]
        m :: Real
    end
    networks
        eval = MLP(1 => 4 => M, out = :sigmoid)
    end
    states
        system(__class__) :: Real[D]
        __class__ ∈ (0.0, 1.0)
    end
    flow
        dsystem/d__class__ = m * system +
            sum(eval(__class__)[n] * os[n] * tanh(__import__[n]' * system + exec[n]) for n in 1:M)
        system(0) ~ Normal(0, I(D))
        system(1.0) = x
    end
end
"""
HOSTILE_NAMES = {"__import__", "os", "exec", "eval", "system", "__class__"}
FIXED = {"torch", "F", "ops", "m", "t", "symbolic", "z", "dz", "trace", "dynamics"}
FIXED |= {"dynamics_and_trace", "dynamics_closed_form", "target_log_density", "None", "odedsl"}
GENERATED = re.compile(r"(p|tp|net|s|d|a|v)_[A-Za-z0-9_]+|[ex][0-9]+")


def tokens(source: str) -> list[tokenize.TokenInfo]:
    return list(tokenize.generate_tokens(io.StringIO(source).readline))


def test_generated_code_holds_only_the_compilers_identifiers(monkeypatch):
    compiled_sources: list[str] = []
    real_compile = builtins.compile

    def recording_compile(source, *args, **kwargs):
        if isinstance(source, str | bytes):
            compiled_sources.append(source if isinstance(source, str) else source.decode())
        return real_compile(source, *args, **kwargs)

    monkeypatch.setattr(builtins, "compile", recording_compile)
    model = compile(HOSTILE)
    logp = model.log_prob(torch.randn(4, 2))
    monkeypatch.undo()
    assert torch.isfinite(logp).all()
    listing = generated_code(model)
    # The generated text is what was executed, and no source text compiled while compiling
    # and running the model carries spec text: no hostile name as a bare identifier, no
    # string literal but einsum equations, not the path.
    assert model.program.text in compiled_sources
    for source in compiled_sources:
        assert "pwned" not in source and "__import__(" not in source
    previous: list[str] = ["", ""]
    for token in tokens(listing):
        if token.type == tokenize.NAME:
            assert token.string not in HOSTILE_NAMES, token
            if previous == ["m", "."]:  # a member: a parameter or a network
                assert GENERATED.fullmatch(token.string), token
            elif previous[1] != ".":  # a bare name: the compiler's own or a keyword
                allowed = keyword.iskeyword(token.string) or token.string in FIXED
                assert allowed or GENERATED.fullmatch(token.string), token
        if token.type == tokenize.STRING:
            assert re.fullmatch(r"'[a-z.,>\-]*'", token.string), token
        if token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE):
            previous = [previous[1], token.string]
    assert "pwned" not in listing and "x.csv" not in listing
    assert "m.p_____import____" in listing  # the parameter `__import__`, behind its prefix
