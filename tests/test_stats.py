"""The engines' percentiles give numpy's figures."""

from __future__ import annotations

import numpy as np
import pytest

from worker.stats import percentile, percentiles


@pytest.mark.parametrize("size", [1, 2, 3, 10, 1001, 65536])
@pytest.mark.parametrize("qs", [(2, 99), (10, 90), (50,), (65,), (0, 100), (75, 25)])
def test_percentiles_match_numpys_linear_interpolation(size: int, qs: tuple[float, ...]) -> None:
    values = np.random.default_rng(size).standard_normal(size).astype(np.float32) * 10
    assert percentiles(values, qs) == pytest.approx(list(np.percentile(values, qs)), rel=1e-6, abs=1e-5)


def test_the_input_is_left_as_it_was_and_an_empty_one_is_refused() -> None:
    values = np.array([[3.0, 1.0], [2.0, 5.0]], np.float32)
    before = values.copy()
    assert percentile(values, 50) == pytest.approx(2.5)
    assert np.array_equal(values, before)
    with pytest.raises(ValueError, match="empty"):
        percentile(np.zeros(0, np.float32), 50)
