"""Exported artefacts of every reference spec, loaded where odedsl cannot be imported, give
odedsl's outputs (the same fixed-step solve) to 1e-6."""

from __future__ import annotations

import pytest
import torch

from .conftest import CASES, STEPS


def _flat(value) -> list[torch.Tensor]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


@pytest.mark.parametrize(("spec", "fmt"), CASES)
def test_artefact_matches_odedsl(exported, spec: str, fmt: str) -> None:
    outputs, description = exported["artefacts"][spec, fmt]
    expected = exported["references"][spec]
    assert sorted(outputs) == sorted(expected) == sorted(description["methods"])
    for method, value in expected.items():
        got, want = _flat(outputs[method]), _flat(value)
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            assert a.shape == b.shape, method
            # 1e-6: the bar; both sides run the same tableau on the same grid, so
            # only rounding (operation order, times in the model's dtype) separates them.
            torch.testing.assert_close(a.to(b.dtype), b, rtol=1e-6, atol=1e-6, msg=method)
    if description["kind"] != "planar":
        # The comparison sees the grid: one step more moves some output by far more than 1e-6.
        other = exported["other_grid"][spec]
        moved = max(
            float((a - b).abs().max())
            for method in expected
            for a, b in zip(_flat(other[method]), _flat(expected[method]), strict=True)
        )
        assert moved > 1e-5
        assert description["solve"]["method"] == "rk4"
        assert description["solve"]["steps"] == STEPS
