"""A pathological file is reported with a bounded number of diagnostics (no quadratic blow-up)."""

from __future__ import annotations

import pytest

from odedsl.errors import SpecError
from odedsl.lang import check
from odedsl.lang.diagnostics import MAX_DIAGNOSTICS


def test_many_unclosed_brackets_are_capped() -> None:
    # 100k open brackets used to cost one linear de-duplication scan per report (quadratic,
    # minutes); now each report is O(1) and the file reports at most MAX_DIAGNOSTICS.
    text = "model A\n" + "(" * 100_000 + "\nend\n"
    with pytest.raises(SpecError) as caught:
        check(text)
    diagnostics = caught.value.diagnostics
    assert 1 <= len(diagnostics) <= MAX_DIAGNOSTICS
    assert diagnostics[0].code == "E013" and diagnostics[0].line == 2
