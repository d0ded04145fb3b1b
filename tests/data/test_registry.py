"""The registry's uniform call: contracts, seeding, and argument errors."""

from __future__ import annotations

import numpy as np
import pytest

from odedsl.data import DATASETS, DataError, load, rng_for, sample

GENERATED = [name for name, spec in DATASETS.items() if spec.kind in ("density2d", "series")]


@pytest.mark.parametrize("name", GENERATED)
def test_generated_sets_are_seeded_float64_and_split_streams_differ(name: str) -> None:
    first = load(name, n=50, seed=3)
    again = load(name, n=50, seed=3)
    other_seed = load(name, n=50, seed=4)
    test = load(name, split="test", n=50, seed=3)
    assert first.keys() == again.keys()
    for key, value in first.items():
        np.testing.assert_array_equal(value, again[key])
        assert value.dtype in (np.float64, np.int64, np.bool_), key
        assert len(value) == 50, key
    assert not np.array_equal(first["x"], other_seed["x"])
    assert not np.array_equal(first["x"], test["x"])


def test_toy_density_default_size_and_streaming_batches_are_fresh() -> None:
    assert load("Moons")["x"].shape == (10_000, 2)
    rng = rng_for(0, "batches")
    one, two = sample("Moons", 256, rng), sample("Moons", 256, rng)
    assert one.shape == two.shape == (256, 2)
    assert not np.array_equal(one, two)
    # The streaming generator is independent of the fixed training set drawn with the same seed.
    assert not np.array_equal(sample("Moons", 10, rng_for(0, "batches")), load("Moons", n=10)["x"])


def test_noise_argument_reaches_the_sampler() -> None:
    # With zero noise every moons point lies exactly on an arc of radius 1.
    x = load("Moons", n=200, noise=0.0)["x"]
    outer = np.hypot(x[:, 0], x[:, 1])
    inner = np.hypot(x[:, 0] - 1.0, x[:, 1] - 0.5)
    np.testing.assert_allclose(np.minimum(abs(outer - 1), abs(inner - 1)), 0.0, atol=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: load("Moons", nosie=0.1), "has no argument `nosie` (did you mean `noise`?)"),
        (lambda: load("Spirals2D", observd=30), "(did you mean `observed`?)"),
        (lambda: load("Moon"), "unknown data set 'Moon' (did you mean `Moons`?)"),
        (lambda: load("Moons", split="tset"), "(did you mean `test`?)"),
        (lambda: load("MNIST"), "MNIST() needs `root`"),
        (lambda: load("Moons", n=0), "`n` must be at least 1"),
        (lambda: load("Moons", seed=-1), "`seed` must be at least 0"),
        (lambda: load("Moons", noise=-0.1), "`noise` must be a finite non-negative number"),
        (lambda: load("Moons", noise="big"), "`noise` must be a real number"),
        (lambda: load("Spirals2D", observed=101), "`observed` must be between 1 and 100"),
        (lambda: sample("Digits", 4, rng_for(0, "batches")), "not a 2-D toy density"),
        (lambda: rng_for(0, "trian"), "(did you mean `train`?)"),
    ],
)
def test_bad_arguments_raise_value_errors_that_name_them(call, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        call()
    assert isinstance(caught.value, DataError)
    assert message in str(caught.value)


def test_every_spec_documents_its_keys() -> None:
    for spec in DATASETS.values():
        assert "x" in spec.keys, spec.name


def test_asking_for_more_than_a_fixed_set_holds_is_an_error() -> None:
    pytest.importorskip("sklearn")
    with pytest.raises(DataError, match="asked for n = 500, but the test split has only 450"):
        load("Digits", split="test", n=500)
    assert load("Digits", split="test", n=10)["x"].shape == (10, 1, 8, 8)


def test_arguments_list_the_catalogue_keywords() -> None:
    assert DATASETS["Spirals2D"].arguments == ("observed", "noise", "split", "n", "seed")
    assert DATASETS["MNIST"].arguments == ("root", "split", "n", "seed")
    assert DATASETS["Checkerboard"].arguments == ("split", "n", "seed")
