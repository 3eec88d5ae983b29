"""Percentiles without numpy.percentile, which imports numpy.ma on its first call: 20 ms at the start of
every clip that the engines and the metrics would otherwise spend before the first frame."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def percentiles(values: np.ndarray, qs: Sequence[float]) -> list[float]:
    """numpy.percentile(values, qs) with its default linear interpolation: the same figures."""
    flat = np.asarray(values).ravel()
    if flat.size == 0:
        raise ValueError("percentiles of an empty array")
    positions = [q / 100.0 * (flat.size - 1) for q in qs]
    below = [int(np.floor(p)) for p in positions]
    above = [min(b + 1, flat.size - 1) for b in below]
    ordered = np.partition(flat, sorted(set(below + above)))
    return [
        float(ordered[b]) + (float(ordered[a]) - float(ordered[b])) * (p - b)
        for p, b, a in zip(positions, below, above, strict=True)
    ]


def percentile(values: np.ndarray, q: float) -> float:
    return percentiles(values, (q,))[0]
