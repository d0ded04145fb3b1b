"""eval.json names the trained values of a spec's small parameters (odedsl.workflow)."""

from __future__ import annotations

import math

import torch

import odedsl
from odedsl.workflow import LEARNED_SIZE, learned_parameters

SPEC = """
model Learned
    data
        (ts, x) ~ Periodic1D(n = 8, observed = 5)
    end
    params
        a :: Real = -0.5
        σ :: Positive = 0.25
        z0 :: Real[1] = [1.5]
        w :: Real[{big}]
    end
    states
        z(t) :: Real[1]
    end
    dynamics
        z(0) = z0
        dz/dt = a * z + 0.0 * sum(w)
    end
    likelihood
        for t in ts
            x[t] ~ Normal(z(t), σ)
        end
    end
end
"""


def test_small_parameters_by_spec_name_positive_ones_as_their_value() -> None:
    model = odedsl.compile(SPEC.format(big=LEARNED_SIZE + 1))
    learned = learned_parameters(model)
    # w has LEARNED_SIZE + 1 entries: left out; the others at their initial values.
    assert set(learned) == {"a", "σ", "z0"}
    assert math.isclose(learned["a"], -0.5, abs_tol=1e-6)
    assert math.isclose(learned["σ"], 0.25, rel_tol=1e-5)  # softplus of the stored raw value
    assert learned["z0"] == [1.5]
    stored = dict(model.named_parameters())
    raw = next(v for k, v in stored.items() if k.endswith("p__u3c3_"))
    with torch.no_grad():
        raw.fill_(0.0)  # softplus(0) = log 2
    assert math.isclose(learned_parameters(model)["σ"], math.log(2.0), rel_tol=1e-6)
