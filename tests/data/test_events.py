"""EventSeries: the latent ODE against solve_ivp, thinning against the intensity's integral."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from odedsl.data import event_compensator, event_intensity, event_latent, event_log_likelihood, load

HORIZON = 5.0


def _integrated_intensity(z0: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Λ(upper) = ∫₀^upper λ dt = upper · ∫₀¹ λ(u · upper) du, by adaptive vector quadrature."""
    integral, _ = integrate.quad_vec(
        lambda u: upper * event_intensity(z0, u * upper), 0.0, 1.0, epsabs=1e-11, epsrel=1e-11
    )
    return integral


@pytest.fixture(scope="module")
def events() -> dict[str, np.ndarray]:
    return load("EventSeries", n=500, seed=0)


def test_latent_state_solves_the_linear_ode(events) -> None:
    z0 = events["z0"][0]
    matrix = np.array([[-0.1, -1.5], [1.5, -0.1]])
    times = np.linspace(0, HORIZON, 11)
    solution = integrate.solve_ivp(
        lambda t, z: matrix @ z, (0, HORIZON), z0, t_eval=times, rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(event_latent(z0, times), solution.y.T, atol=1e-9)


def test_observations_are_latent_plus_noise(events) -> None:
    residual = events["x"] - event_latent(events["z0"][:, None, :], events["ts"])
    assert abs(residual.std() - 0.1) < 0.003  # 30 000 residuals: std error ≈ 0.0004


def test_event_counts_match_the_integrated_intensity(events) -> None:
    expected = _integrated_intensity(events["z0"], np.full(len(events["z0"]), HORIZON))
    np.testing.assert_allclose(event_compensator(events["z0"]), expected, rtol=1e-10)
    # Given z0 the counts are independent Poisson, so their sum is Poisson(Σ Λᵢ): z-score < 4.
    total, mean = events["event_counts"].sum(), expected.sum()
    assert abs(total - mean) / np.sqrt(mean) < 4


def test_event_times_pass_the_time_rescaling_test(events) -> None:
    # Given N events on [0, T], Λ(tᵢ)/Λ(T) are the order statistics of N iid U(0, 1).
    owner, slot = np.nonzero(events["events_mask"])
    z0 = events["z0"][owner]
    at_events = _integrated_intensity(z0, events["events"][owner, slot])
    at_end = _integrated_intensity(z0, np.full(len(owner), HORIZON))
    assert stats.kstest(at_events / at_end, "uniform").pvalue > 1e-3


def test_events_are_sorted_padded_and_in_the_window(events) -> None:
    times, mask, counts = events["events"], events["events_mask"], events["event_counts"]
    np.testing.assert_array_equal(mask.sum(axis=1), counts)
    assert np.all(mask[:, :-1] >= mask[:, 1:])  # real events first
    assert np.all(np.diff(times, axis=1) >= 0)
    assert np.all((times >= 0) & (times <= HORIZON))
    assert np.all(times[~mask] == HORIZON)


def test_log_likelihood_matches_direct_sum(events) -> None:
    z, times, mask = events["z0"][:3], events["events"][:3], events["events_mask"][:3]
    direct = [
        np.log(event_intensity(z[i], times[i][mask[i]])).sum()
        - integrate.quad(lambda t, i=i: float(event_intensity(z[i], t)), 0, HORIZON)[0]
        for i in range(3)
    ]
    np.testing.assert_allclose(event_log_likelihood(z, times, mask), direct, rtol=1e-10)
