"""The trace in index form: deltas summed away, nothing unrolled over the state."""

from __future__ import annotations

import sympy as sp

from odedsl.symbolic import DynamicsBuilder, apply, derive
from odedsl.symbolic.derive import eliminate_deltas

from . import cases

j, k = sp.Idx("j", 3), sp.Idx("k", 3)
n = sp.Idx("n", 5)
w, v = sp.IndexedBase("w"), sp.IndexedBase("v")


def test_delta_sums_to_the_other_index():
    assert eliminate_deltas(sp.Sum(sp.KroneckerDelta(j, k) * w[j], (j, 0, 2))) == w[k]


def test_delta_with_a_constant_index_selects_it():
    assert eliminate_deltas(sp.Sum(sp.KroneckerDelta(0, j) * w[n, j], (j, 0, 2))) == w[n, 0]


def test_deltas_inside_sums_of_terms_are_eliminated_term_by_term():
    expr = sp.Sum(sp.KroneckerDelta(j, k) * w[j] + v[j], (j, 0, 2))
    assert eliminate_deltas(expr) == w[k] + sp.Sum(v[j], (j, 0, 2))


def test_delta_to_an_index_of_a_wider_range_stays():
    """n runs over 0..4, beyond j's 0..2: summing over j cannot set j = n."""
    expr = sp.Sum(sp.KroneckerDelta(j, n) * w[j], (j, 0, 2))
    assert eliminate_deltas(expr) == expr


def test_sum_of_an_index_free_term_becomes_a_product():
    assert eliminate_deltas(sp.Sum(v[k], (j, 0, 2))) == 3 * v[k]


def test_gated_trace_is_the_paper_formula():
    """tr = Σ_n Σ_i g_n (1 − tanh²(a_n)) u_ni w_ni with a_n = b_n + Σ_j w_nj z_j."""
    case = cases.gated()
    derived = derive(case.builder, case.f)
    (activation,) = derived.f.atoms(sp.tanh)
    g, u, w_, z = (sp.IndexedBase(name, real=True) for name in ("net_gate", "p_u", "p_w", "z"))
    (unit,) = {index for index in activation.atoms(sp.Idx) if str(index).startswith("n")}
    i = derived.component
    expected = sp.Sum(
        g[unit] * (1 - activation**2) * u[unit, i] * w_[unit, i],
        (unit, 0, cases.M - 1),
        (i, 0, cases.D - 1),
    )
    (affine,) = activation.args[0].atoms(sp.Sum)
    (j,) = affine.variables
    assert (
        activation.args[0]
        == sp.Sum(w_[unit, j] * z[j], (j, 0, cases.D - 1)) + sp.IndexedBase("p_b", real=True)[unit]
    )
    assert derived.trace == expected


def test_equal_sums_written_twice_become_one_expression():
    """u tanh(w'z) + v tanh(w'z): both dot products bind indices of the same canonical name,
    so sympy sees one tanh (and cse computes it once)."""
    b = DynamicsBuilder("z", 3)
    w, u, v = (b.param(name, (3,)) for name in "wuv")
    f = u * apply("tanh", w.T * b.state) + v * apply("tanh", w.T * b.state)
    assert len(derive(b, f).f.atoms(sp.tanh)) == 1


def test_trace_is_not_unrolled_over_the_state():
    for build in (cases.gated, cases.hypernetwork, cases.matrix_mlp):
        case = build()
        trace = derive(case.builder, case.f).trace
        state_entries = {x for x in trace.atoms(sp.Indexed) if str(x.base) == "z"}
        assert all(isinstance(index, sp.Idx) for x in state_entries for index in x.indices)
        assert not trace.has(sp.KroneckerDelta)
