"""Spec templates shared by the data tests: `{data}` is the data line."""

FLOW = """model Points
    data
        {data}
    end
    states
        z(t) :: Real[2]
        t ∈ (0.0, 1.0)
    end
    flow
        dz/dt = -z
        z(0) ~ Normal(0, I(2))
        z(1.0) = x
    end
end
"""
