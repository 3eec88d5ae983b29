"""Defaults shared by the settings and `vivant animate`, which reads its settings as options (with
the same VIVANT_ environment variables) so that it starts without loading the settings machinery."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from worker.choices import DepthMode

# About a 10000x8000 photo: far beyond any camera a family owns, well short of a decompression bomb.
DEFAULT_MAX_PIXELS = 80_000_000
# The learned depth where its weights are there, else the weight-free estimate (worker/choices.py).
DEFAULT_DEPTH: DepthMode = "auto"
