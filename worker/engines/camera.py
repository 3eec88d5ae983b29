"""Virtual camera paths: per-frame coefficients of the parallax engine's motion fields.

A path says how far the camera has moved at each frame, in units the engine turns into pixels:
`shift` is the lateral camera position (x, y), `push` the dolly towards the subject (0..1) and
`breath` the rise of a sitter's chest (0..1). Every path starts at rest (all zeros), so the first
frame is the photo; looping paths are periodic over the clip, so the last frame flows into the first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worker.engines.base import Camera

# A calm adult breathes about 15 times a minute: one breath every 4 seconds.
BREATH_SECONDS = 4.0


@dataclass(frozen=True)
class CameraPath:
    shift: np.ndarray  # (n, 2) lateral camera position, each component within -1..1
    push: np.ndarray  # (n,) dolly-in, 0..1
    breath: np.ndarray  # (n,) chest rise, 0..1


def choose_camera(camera: Camera, *, has_person: bool) -> Camera:
    """`auto`: a push-in towards the face for portraits, a lateral drift for everything else."""
    if camera != "auto":
        return camera
    return "push" if has_person else "drift"


def _phase(frames: int, loop: bool) -> np.ndarray:
    # A loop stops one step short of t=1, because t=1 is the first frame again.
    return np.arange(frames) / frames if loop else np.linspace(0.0, 1.0, frames)


def ease(t: np.ndarray, loop: bool) -> np.ndarray:
    """0 at rest, 1 at the far end of the move, with zero velocity at both ends.

    Straight clips ease out and settle (smoothstep); loops go out and come back on a cosine, which
    has no corner anywhere, the seam included.
    """
    if loop:
        return (1.0 - np.cos(2.0 * np.pi * t)) / 2.0
    return t * t * (3.0 - 2.0 * t)


def camera_path(camera: Camera, *, frames: int, fps: float, loop: bool, seed: int) -> CameraPath:
    """The path of a resolved camera (not `auto`); `seed` picks the direction of the move."""
    rng = np.random.default_rng(seed)
    side = float(rng.choice((-1.0, 1.0)))
    t = _phase(frames, loop)
    e = ease(t, loop)
    zeros = np.zeros(frames)
    if camera == "still":
        shift, push = np.stack([zeros, zeros], axis=1), zeros
    elif camera == "drift":
        # Mostly sideways with a little rise: a pure horizontal slide reads as a dolly on rails.
        shift, push = np.stack([side * e, -0.25 * e], axis=1), zeros
    elif camera == "push":
        # A slight rise as the camera moves in opens the subject from the background, as a crane does.
        shift, push = np.stack([zeros, -0.3 * e], axis=1), e
    elif camera == "orbit":
        # A small ellipse through the starting point; a straight clip eases round it once. Its radius
        # is half a drift's reach: going round covers about three times a drift's distance.
        angle = 2.0 * np.pi * (t if loop else e)
        shift = 0.5 * np.stack([side * np.sin(angle), 0.5 * (1.0 - np.cos(angle))], axis=1)
        push = zeros
    else:
        raise ValueError(f"camera {camera!r} has no path; resolve 'auto' with choose_camera first")
    return CameraPath(shift=shift, push=push, breath=breath_curve(frames=frames, fps=fps, loop=loop))


def breath_curve(*, frames: int, fps: float, loop: bool) -> np.ndarray:
    """Whole breaths only (at least one), so the chest is at rest on the first and last frame."""
    seconds = frames / fps
    breaths = max(1, round(seconds / BREATH_SECONDS))
    t = _phase(frames, loop)
    return (1.0 - np.cos(2.0 * np.pi * breaths * t)) / 2.0
