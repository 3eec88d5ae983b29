"""What a film is made of, shared by the web app (which lists it) and the worker (which composes it).

Plain data on purpose: the web app imports this module, and it must load no decoder or encoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FilmEntry:
    """One photo of a film: its still (the display JPEG) and its clip, None when it has no ready clip."""

    still: Path
    clip: Path | None


@dataclass(frozen=True)
class FilmTiming:
    """How long things last. A clip ends on its last frame held `hold_s`, and every item fades into the
    next over `fade_s`; a photo without a clip is shown still for `still_s`."""

    fps: int = 24
    hold_s: float = 1.5
    still_s: float = 3.0
    fade_s: float = 0.75

    @property
    def hold_frames(self) -> int:
        return round(self.hold_s * self.fps)

    @property
    def still_frames(self) -> int:
        return round(self.still_s * self.fps)

    @property
    def fade_frames(self) -> int:
        return round(self.fade_s * self.fps)

    def __post_init__(self) -> None:
        # A fade takes its frames from the end of one item and the start of the next, so no item may be
        # shorter than two fades, and a clip's fade out lies within its hold (never over its motion).
        if self.hold_frames < self.fade_frames or self.still_frames < 2 * self.fade_frames:
            raise ValueError(
                f"a hold of {self.hold_s} s and a still of {self.still_s} s are too short for "
                f"fades of {self.fade_s} s: the hold must last a fade, the still two"
            )
