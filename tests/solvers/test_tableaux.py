"""Butcher tableaux: order conditions, dense-output order conditions, scipy's coefficients.

The order conditions are checked on every rooted tree up to the method's order (200 trees
for order 8): ``Σ_j b_j Φ_j(τ) = 1/γ(τ)``. A continuous extension of order ``q`` satisfies
``Σ_j w_j(θ) Φ_j(τ) = θ^|τ| / γ(τ)`` for every tree with ``|τ| <= q`` and every θ.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
from scipy.integrate._ivp import dop853_coefficients as dop853
from scipy.integrate._ivp.rk import RK23, RK45

from odedsl.solvers.interpolation import linear_dense_output
from odedsl.solvers.methods import SOLVERS
from odedsl.solvers.tableau import ButcherTableau
from odedsl.solvers.tableaux import BOSH3, DOPRI5, DOPRI8

# Every method's tableau, implicit ones included (the order conditions hold for a full ``a``).
TABLEAUX = {name: cls.tableau for name, cls in SOLVERS.items() if hasattr(cls, "tableau")}
EXPLICIT = sorted(name for name, t in TABLEAUX.items() if isinstance(t, ButcherTableau))
THETAS = np.linspace(0.0, 1.0, 7)


@functools.cache
def trees(order: int) -> tuple[tuple, ...]:
    """Rooted trees with ``order`` nodes, each a sorted tuple of its subtrees."""
    if order == 1:
        return ((),)
    found = set()
    for split in _partitions(order - 1):
        for children in itertools.product(*(trees(n) for n in split)):
            found.add(tuple(sorted(children)))
    return tuple(sorted(found))


def _partitions(n: int, largest: int | None = None):
    largest = n if largest is None else largest
    if n == 0:
        yield ()
        return
    for first in range(min(n, largest), 0, -1):
        for rest in _partitions(n - first, first):
            yield (first, *rest)


def size(tree: tuple) -> int:
    return 1 + sum(size(child) for child in tree)


def density(tree: tuple) -> int:
    return size(tree) * int(np.prod([density(child) for child in tree]))


def elementary_weights(tree: tuple, a: np.ndarray) -> np.ndarray:
    phi = np.ones(a.shape[0])
    for child in tree:
        phi = phi * (a @ elementary_weights(child, a))
    return phi


def coefficient_matrix(rows) -> np.ndarray:
    a = np.zeros((len(rows), len(rows)))
    for i, row in enumerate(rows):
        a[i, : len(row)] = row
    return a


def order_defect(tableau: ButcherTableau, weights: np.ndarray, order: int) -> float:
    """Largest |Σ b_j Φ_j(τ) - 1/γ(τ)| over trees with ``order`` nodes."""
    a = coefficient_matrix(tableau.a)
    return max(
        abs(weights @ elementary_weights(tree, a) - 1.0 / density(tree)) for tree in trees(order)
    )


def test_tree_counts_match_the_known_sequence() -> None:
    assert [len(trees(n)) for n in range(1, 9)] == [1, 1, 2, 4, 9, 20, 48, 115]


@pytest.mark.parametrize("name", sorted(TABLEAUX))
def test_solution_weights_satisfy_the_order_conditions(name: str) -> None:
    tableau = TABLEAUX[name]
    b = np.asarray(tableau.b)
    for order in range(1, tableau.order + 1):
        assert order_defect(tableau, b, order) < 1e-12, (name, order)
    # ... and not those of the next order (the stated order is the true one).
    assert order_defect(tableau, b, tableau.order + 1) > 1e-6


@pytest.mark.parametrize(
    "name", ["adaptive_heun", "fehlberg2", "bosh3", "dopri5", "tsit5", "dopri8"]
)
def test_embedded_weights_have_the_stated_order(name: str) -> None:
    tableau = TABLEAUX[name]
    embedded = np.asarray(tableau.b) - np.asarray(tableau.error)
    # DOP853's main estimator is of order 5 (its ``error_order`` of 7 describes the
    # combined estimate); the others' embedded solutions have order ``error_order``.
    order = 5 if name == "dopri8" else tableau.error_order
    for p in range(1, order + 1):
        assert order_defect(tableau, embedded, p) < 1e-12, (name, p)
    if tableau.error_aux is not None:
        third = np.asarray(tableau.b) - np.asarray(tableau.error_aux)
        for p in range(1, 4):
            assert order_defect(tableau, third, p) < 1e-12, (name, p)


def dense_defect(tableau: ButcherTableau, dense, order: int) -> float:
    """Largest |Σ w_j(θ) Φ_j(τ) - θ^|τ|/γ(τ)| over trees with ``order`` nodes and θ grid."""
    rows = tableau.a + dense.extra_a
    a = coefficient_matrix(rows)
    w = dense.weights(THETAS)
    worst = 0.0
    for tree in trees(order):
        phi = elementary_weights(tree, a)
        worst = max(worst, np.abs(w @ phi - THETAS**order / density(tree)).max())
    return worst


@pytest.mark.parametrize("name", EXPLICIT)
def test_continuous_extension_has_its_order(name: str) -> None:
    tableau = TABLEAUX[name]
    dense = tableau.continuous_extension
    order = min(dense.order, tableau.order)
    for p in range(1, order + 1):
        assert dense_defect(tableau, dense, p) < 1e-11, (name, p)
    np.testing.assert_allclose(
        dense.weights(np.array([1.0]))[0, : tableau.n_stages], tableau.b, atol=1e-13
    )
    np.testing.assert_allclose(dense.weights(np.array([0.0])), 0.0, atol=1e-15)


def test_linear_interpolation_is_first_order() -> None:
    dense = linear_dense_output(DOPRI5.b)
    assert dense_defect(DOPRI5, dense, 1) < 1e-14
    assert dense_defect(DOPRI5, dense, 2) > 0.01


def test_dopri8_coefficients_are_scipys_dop853_digit_for_digit() -> None:
    s = dop853.N_STAGES
    a = coefficient_matrix(DOPRI8.a + DOPRI8.dense.extra_a)
    assert np.array_equal(a, dop853.A)
    assert np.array_equal(np.asarray(DOPRI8.c + DOPRI8.dense.extra_c), dop853.C)
    assert np.array_equal(np.asarray(DOPRI8.b[:s]), dop853.B)
    assert np.array_equal(np.asarray(DOPRI8.error), dop853.E5)
    assert np.array_equal(np.asarray(DOPRI8.error_aux), dop853.E3)


def test_dopri5_and_bosh3_match_scipys_rk45_and_rk23() -> None:
    for tableau, ref in ((DOPRI5, RK45), (BOSH3, RK23)):
        s = ref.n_stages
        rows, cols = ref.A.shape
        np.testing.assert_allclose(coefficient_matrix(tableau.a)[:rows, :cols], ref.A, rtol=1e-15)
        np.testing.assert_allclose(tableau.c[:s], ref.C, rtol=1e-15)
        np.testing.assert_allclose(tableau.b[:s], ref.B, rtol=1e-15)
        # scipy's E is b̂ - b; ours is b - b̂.
        np.testing.assert_allclose(tableau.error, -ref.E, rtol=1e-14, atol=1e-17)
    powers = THETAS[:, None] ** np.arange(1, 5)
    np.testing.assert_allclose(DOPRI5.dense.weights(THETAS), powers @ RK45.P.T, rtol=1e-14)


@pytest.mark.parametrize("name", EXPLICIT)
def test_fsal_is_detected_for_the_embedded_pairs(name: str) -> None:
    # The low-order pairs' last stage sits at the embedded solution, not at y1.
    fsal_pair = TABLEAUX[name].adaptive and name not in ("adaptive_heun", "fehlberg2")
    assert TABLEAUX[name].fsal == fsal_pair


def test_inconsistent_tableau_is_rejected() -> None:
    with pytest.raises(ValueError, match="does not sum"):
        ButcherTableau(name="bad", order=2, c=(0.0, 0.5), a=((), (0.4,)), b=(0.0, 1.0))
