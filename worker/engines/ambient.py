"""Ambient motion: what moves in the scene itself, where the scene has it, beyond the camera's move.

Four kinds, each only where its region (worker/engines/regions.py) is large and sure enough:
- sky: the sky drifts sideways, its high clouds a little faster than those near the horizon;
- water: fine ripples travel through the water, about a pixel high;
- foliage: leaves stir, a smooth noise displacement of about half a pixel;
- light: the highlights swell by a few percent and settle, slowly.

The first three are displacement fields with per-frame coefficients, added to the parallax engine's own
terms (so its keep-still weight and its one remap serve them too); light scales the photo it samples.
Every coefficient is zero at frame 0 (the first frame stays the photo) and, in a loop, periodic over the
clip. Every field is exactly zero on faces (grown to the head, with room for the camera's move), on a
person's body, inside the keep-still region, and on the photo's border ring: the ring is where the
engine decides its border zoom, so ambient motion never changes the camera's framing, and the fields
fade in from the borders slowly enough that no pixel samples outside the photo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from worker.choices import AmbientKind
from worker.engines.base import MotionSpec
from worker.engines.camera import ease
from worker.engines.depth import Scene, upsample
from worker.engines.regions import (
    SKY_CONFIDENT,
    Region,
    foliage_region,
    highlight_region,
    sky_region,
    water_region,
)

# A region takes part only above both: a region smaller than this is a detail, not part of the scene.
MIN_AREA: dict[AmbientKind, float] = {"sky": 0.06, "water": 0.04, "foliage": 0.04, "light": 0.02}
MIN_CONFIDENCE: dict[AmbientKind, float] = {"sky": SKY_CONFIDENT, "water": 0.5, "foliage": 0.5, "light": 0.5}
# Behind a sitter a smooth blue or grey field is more often a studio backdrop than a sky.
MIN_SKY_CONFIDENCE_BEHIND_A_PERSON = 0.8

# Sizes as fractions of the clip's long side, at strength "gentle" and amplitude 1. The sky's drift is
# half the camera's pan: enough to see the clouds travel, too little to read as a second camera.
_SKY_DRIFT = 0.01
# Ripple heights of the two wave trains (a travelling wave less the still one swings to twice this).
_WATER = (0.0003, 0.0002)
_WATER_LENGTH = (0.016, 0.009)  # their wavelengths
_WATER_PERIOD_S = (1.6, 1.1)
_FOLIAGE = 0.0004
_FOLIAGE_SCALE = 0.03  # size of a stirring clump of leaves
_FOLIAGE_PERIOD_S = (3.0, 2.2)
_LIGHT = 0.035  # the highlights' swell, as a gain
_LIGHT_PERIOD_S = 4.0
# A clip shorter than this has no time for light to breathe: a swell and back within a second is a flicker.
_LIGHT_MIN_SECONDS = 2.0
# Fades: into a region from its edge (wider than the largest drift, so no pixel samples across the edge),
# out of faces and keep-still regions, and in from the photo's borders.
_SKY_FEATHER = 0.04
_FEATHER = 0.015
_EXCLUDE_FEATHER = 0.03
_BORDER_FADE = 0.06
# Room around a face for the camera's own move: a face moves under the fields, which are fixed on the frame,
# and samples the photo (where the light swells) up to a few percent of the long side from where it was.
_FACE_ROOM = 0.06


@dataclass
class LightSwell:
    """Brightens the photo's highlights before they are sampled, so the swell moves with the picture."""

    glow: np.ndarray  # uint8 HxWx3 within `rows` x `cols`: the photo times the highlight weight
    gain: np.ndarray  # (frames,) the swell, 0 at rest
    rows: slice
    cols: slice
    _source: np.ndarray | None = field(default=None, repr=False)

    def source(self, base: np.ndarray, index: int) -> np.ndarray:
        """`base` with frame `index`'s swell; one buffer is reused, so frames are made one at a time."""
        if self._source is None:
            self._source = base.copy()
        roi = (self.rows, self.cols)
        cv2.addWeighted(base[roi], 1.0, self.glow, float(self.gain[index]), 0.0, dst=self._source[roi])
        return self._source


@dataclass
class Ambient:
    """The kinds applied (sky, water, foliage, light, in that order), their displacement terms for each
    map axis (a field at the clip's size, a coefficient per frame), and the light's swell."""

    kinds: tuple[AmbientKind, ...] = ()
    x_terms: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    y_terms: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    light: LightSwell | None = None


def find_regions(small: np.ndarray) -> dict[AmbientKind, Region]:
    """Each kind's region in the engine's working copy of the photo."""
    return {
        "sky": sky_region(small),
        "water": water_region(small),
        "foliage": foliage_region(small),
        "light": highlight_region(small),
    }


def _smoothstep(values: np.ndarray) -> np.ndarray:
    t = np.clip(values, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def _inside(mask: np.ndarray, feather: float) -> np.ndarray:
    """1 deep inside a 0/1 mask, falling to 0 at its edge over `feather` pixels: fields that fade inwards
    stretch only the region itself, never what lies beside it."""
    padded = cv2.copyMakeBorder(mask.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_REPLICATE)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, 3)[1:-1, 1:-1]
    return _smoothstep(distance / max(feather, 1.0))


def _away_from(excluded: np.ndarray, feather: float) -> np.ndarray:
    """0 on the excluded pixels, rising to 1 over `feather` pixels outside them."""
    if not excluded.any():
        return np.ones(excluded.shape, np.float32)
    distance = cv2.distanceTransform((~excluded).astype(np.uint8), cv2.DIST_L2, 3)
    return _smoothstep(distance / max(feather, 1.0))


def _heads(scene: Scene, size: tuple[int, int], room: float) -> np.ndarray:
    """The face boxes grown to the whole head (hair above, chin and neck below) plus `room` pixels."""
    w, h = size
    sx, sy = w / scene.depth.shape[1], h / scene.depth.shape[0]
    heads = np.zeros((h, w), np.uint8)
    for x, y, fw, fh in scene.faces:
        left, right = (x - 0.35 * fw) * sx - room, (x + 1.35 * fw) * sx + room
        top, bottom = (y - 0.6 * fh) * sy - room, (y + 1.4 * fh) * sy + room
        cv2.rectangle(heads, (int(left), int(top)), (int(np.ceil(right)), int(np.ceil(bottom))), 1, -1)
    return heads.astype(bool)


def _border_fade(size: tuple[int, int], width: float) -> tuple[np.ndarray, np.ndarray]:
    """Per axis, 0 on the photo's first and last column (row), rising to 1 over `width` pixels."""
    w, h = size
    xs, ys = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
    fade_x = _smoothstep(np.minimum(xs, w - 1 - xs) / width)[None, :]
    fade_y = _smoothstep(np.minimum(ys, h - 1 - ys) / width)[:, None]
    return fade_x, fade_y


def _phase(frames: int, loop: bool) -> np.ndarray:
    # As the camera's: a loop stops one step short of t=1, because t=1 is the first frame again.
    return np.arange(frames) / frames if loop else np.linspace(0.0, 1.0, frames)


def _smooth_noise(
    rng: np.random.Generator, small_shape: tuple[int, ...], scale: float, size: tuple[int, int]
) -> np.ndarray:
    """Unit-spread noise with features of `scale` (a fraction of the long side), at `size` (w, h): drawn at
    the working size, where it is cheap, and enlarged."""
    white = rng.standard_normal(small_shape[:2]).astype(np.float32)
    noise = cv2.GaussianBlur(white, (0, 0), scale * max(small_shape))
    return upsample(noise / np.float32(max(float(noise.std()), 1e-6)), size)


@dataclass(frozen=True)
class _Canvas:
    """What every kind's fields share: the clip's size and clock, and where motion is allowed."""

    size: tuple[int, int]
    long_side: float
    t: np.ndarray  # (frames,) the clip's phase, as the camera's
    frames: int
    fps: int
    loop: bool
    allowed: np.ndarray  # 0 on heads, bodies and keep-still regions, fading to 1 away from them
    fade_x: np.ndarray  # 0 on the left and right borders
    fade_y: np.ndarray  # 0 on the top and bottom borders

    def cycles(self, period_s: float, after: int | None = None) -> int:
        """Whole cycles over the clip, so every kind is back at rest on a loop's seam. With `after`, more
        cycles than that and none in common with it: two rhythms then meet at rest only at the ends, never
        pausing together mid-clip."""
        cycles = max(1, round(self.frames / self.fps / period_s))
        if after is None:
            return cycles
        cycles = max(cycles, after + 1)
        while math.gcd(cycles, after) != 1:
            cycles += 1
        return cycles

    def swing(self, cycles: int) -> np.ndarray:
        """0 at rest, 1 at the far end, `cycles` times over the clip, with no corner anywhere."""
        return (1.0 - np.cos(2.0 * np.pi * cycles * self.t)) / 2.0

    def weight(self, region: Region, kind: AmbientKind, feather: float, *, sure: bool) -> np.ndarray | None:
        """The region's motion weight, or None when the region is unsure or, once held parts are taken out,
        too small to count."""
        if not sure:
            return None
        weight = _inside(upsample(region.mask, self.size) > 0.5, feather * self.long_side) * self.allowed
        return weight if float(weight.mean()) >= MIN_AREA[kind] else None


def _sure(kind: AmbientKind, region: Region, scene: Scene) -> bool:
    """Whether the cues are sure enough of the region (of a sky behind a sitter, surer still)."""
    behind_a_person = kind == "sky" and scene.has_person
    return region.confidence >= (
        MIN_SKY_CONFIDENCE_BEHIND_A_PERSON if behind_a_person else MIN_CONFIDENCE[kind]
    )


def _light_candidate(scene: Scene, spec: MotionSpec, highlights: Region) -> bool:
    """Whether the light may breathe: sure highlights off the subject, large enough even before the held
    parts are taken out (at the working size, where it is cheap), in a clip long enough for a breath."""
    if not _sure("light", highlights, scene) or spec.frame_count / spec.fps < _LIGHT_MIN_SECONDS:
        return False
    return float((highlights.mask * (1.0 - np.clip(scene.subject, 0.0, 1.0))).mean()) >= MIN_AREA["light"]


def _any_candidate(scene: Scene, spec: MotionSpec, regions: dict[AmbientKind, Region]) -> bool:
    moving: tuple[AmbientKind, ...] = ("sky", "water", "foliage")
    sure = any(_sure(kind, regions[kind], scene) for kind in moving)
    return sure or _light_candidate(scene, spec, regions["light"])


def plan_ambient(
    *,
    base: np.ndarray,
    scene: Scene,
    spec: MotionSpec,
    regions: dict[AmbientKind, Region],
    strength: float,
    sky_side: float | None = None,
) -> Ambient:
    """Which kinds apply to this photo (`base`, at the clip's size) and their fields; `strength` scales every
    motion as it scales the camera's. `sky_side` (+1 or -1) is the way the sky drifts, in the map's
    offsets: the engine passes the way its far plane slides under the camera, so the drift adds to the
    parallax instead of cancelling it; without it the seed chooses."""
    if spec.ambient == "off" or strength <= 0.0:
        return Ambient()
    if not _any_candidate(scene, spec, regions):
        return Ambient()  # nothing could take part: no fields to build at the clip's size
    h, w = base.shape[:2]
    long_side = float(max(h, w))
    # 1. Where nothing may move: heads, a person's body, the keep-still region.
    heads = _heads(scene, (w, h), _FACE_ROOM * long_side)
    held = heads.copy()
    if spec.keep_still is not None:
        still = cv2.resize(spec.keep_still.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
        held |= still.astype(bool)
    if scene.has_person:
        held |= upsample(scene.subject, (w, h)) > 0.5
    fade_x, fade_y = _border_fade((w, h), _BORDER_FADE * long_side)
    canvas = _Canvas(
        size=(w, h),
        long_side=long_side,
        t=_phase(spec.frame_count, spec.loop),
        frames=spec.frame_count,
        fps=spec.fps,
        loop=spec.loop,
        allowed=_away_from(held, _EXCLUDE_FEATHER * long_side),
        fade_x=fade_x,
        fade_y=fade_y,
    )
    rng = np.random.default_rng([spec.seed, 0xA3B1])  # its own stream: the camera's draws stay as they were

    # 2. Each kind in turn, where its region is large and sure enough.
    ambient = Ambient()
    kinds: list[AmbientKind] = []
    seeded_side = float(rng.choice((-1.0, 1.0)))  # drawn either way: the other kinds' draws stay the same
    sky = canvas.weight(regions["sky"], "sky", _SKY_FEATHER, sure=_sure("sky", regions["sky"], scene))
    if sky is not None:
        _sky(ambient, canvas, sky, strength, side=seeded_side if sky_side is None else sky_side)
        kinds.append("sky")
    water = canvas.weight(regions["water"], "water", _FEATHER, sure=_sure("water", regions["water"], scene))
    if water is not None and sky is not None:
        # Ripples stop short of the horizon: a rippling horizon is a wobble, not water.
        water *= _away_from(upsample(regions["sky"].mask, (w, h)) > 0.5, _FEATHER * long_side)
        water = water if float(water.mean()) >= MIN_AREA["water"] else None
    if water is not None:
        _water(ambient, canvas, water, strength, rng, scene.depth.shape)
        kinds.append("water")
    foliage = canvas.weight(
        regions["foliage"], "foliage", _FEATHER, sure=_sure("foliage", regions["foliage"], scene)
    )
    if foliage is not None:
        _foliage(ambient, canvas, foliage, strength, rng, scene.depth.shape)
        kinds.append("foliage")
    # Light: the highlights, less the subject (a swell on a face or a body reads as flicker).
    highlights = regions["light"]
    if _light_candidate(scene, spec, highlights):
        off_subject = 1.0 - np.clip(upsample(scene.subject, (w, h)), 0.0, 1.0)
        weight = upsample(highlights.mask, (w, h)) * canvas.allowed * off_subject
        weight[heads] = 0.0
        if float(weight.mean()) >= MIN_AREA["light"]:
            swell = _LIGHT * strength * canvas.swing(canvas.cycles(_LIGHT_PERIOD_S))
            ambient.light = _light(base, weight, swell)
            kinds.append("light")
    ambient.kinds = tuple(kinds)
    return ambient


def _sky(ambient: Ambient, canvas: _Canvas, weight: np.ndarray, strength: float, *, side: float) -> None:
    """One sideways drift, eased like the camera's move; high clouds travel further than those low down."""
    rows = np.nonzero(weight.max(axis=1) > 0)[0]
    horizon = float(rows.max()) + 1.0
    ys = np.arange(weight.shape[0], dtype=np.float32)
    height = np.clip(1.0 - 0.5 * ys / np.float32(horizon), 0.5, 1.0)[:, None]
    drift = weight * height * canvas.fade_x * np.float32(side * _SKY_DRIFT * strength * canvas.long_side)
    ambient.x_terms.append((drift.astype(np.float32), ease(canvas.t, canvas.loop)))


def _water(
    ambient: Ambient,
    canvas: _Canvas,
    weight: np.ndarray,
    strength: float,
    rng: np.random.Generator,
    small_shape: tuple[int, ...],
) -> None:
    """Two trains of ripples running through the water, mostly up and down. Each is a travelling wave minus
    the still one, sin(phase - wt) - sin(phase), so frame 0 is at rest; as fields with per-frame
    coefficients that is sin(phase) (cos wt - 1) - cos(phase) sin wt."""
    w, h = canvas.size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    # Perspective: far water, up towards its horizon, ripples less, and its top edge (a horizon, a far
    # shore) not at all.
    top = float(np.nonzero(weight.max(axis=1) > 0)[0].min())
    weight = weight * np.clip((ys[:, :1] - top) / max(0.3 * (h - top), 1.0), 0.0, 1.0)
    # A slow wobble of the phase, so the ripples are not ruled lines.
    wobble = _smooth_noise(rng, small_shape, 0.05, canvas.size) * np.float32(1.5)
    first = canvas.cycles(_WATER_PERIOD_S[0])
    trains = zip(_WATER, _WATER_LENGTH, (first, canvas.cycles(_WATER_PERIOD_S[1], after=first)), strict=True)
    for train, (ripple, length, cycles) in enumerate(trains):
        slant = np.float32(rng.uniform(-0.25, 0.25))
        phase = (ys + slant * xs) * np.float32(2.0 * np.pi / (length * canvas.long_side)) + wobble
        omega = 2.0 * np.pi * cycles * canvas.t
        amplitude = weight * np.float32(ripple * strength * canvas.long_side)
        rising, falling = amplitude * np.sin(phase), -amplitude * np.cos(phase)
        ambient.y_terms += [
            (rising * canvas.fade_y, np.cos(omega) - 1.0),
            (falling * canvas.fade_y, np.sin(omega)),
        ]
        if train == 0:  # a little sideways sway, from the longer train only
            sway = np.float32(0.35)
            ambient.x_terms += [
                (sway * rising * canvas.fade_x, np.cos(omega) - 1.0),
                (sway * falling * canvas.fade_x, np.sin(omega)),
            ]


def _foliage(
    ambient: Ambient,
    canvas: _Canvas,
    weight: np.ndarray,
    strength: float,
    rng: np.random.Generator,
    small_shape: tuple[int, ...],
) -> None:
    """Each clump of leaves sways on its own small path: two slow rhythms, both starting at rest."""
    amplitude = weight * np.float32(_FOLIAGE * strength * canvas.long_side)
    first = canvas.cycles(_FOLIAGE_PERIOD_S[0])
    second = canvas.cycles(_FOLIAGE_PERIOD_S[1], after=first)
    for cycles in (first, second):
        swing = canvas.swing(cycles)
        sway_x, sway_y = (_smooth_noise(rng, small_shape, _FOLIAGE_SCALE, canvas.size) for _ in range(2))
        ambient.x_terms.append((sway_x * amplitude * canvas.fade_x, swing))
        ambient.y_terms.append((sway_y * amplitude * canvas.fade_y, swing))


def _light(base: np.ndarray, weight: np.ndarray, swell: np.ndarray) -> LightSwell:
    """The swell, kept to the box around the highlights: outside it the photo is sampled as it is."""
    lit = weight >= 1.0 / 255.0
    rows_lit, cols_lit = np.nonzero(lit.any(axis=1))[0], np.nonzero(lit.any(axis=0))[0]
    rows = slice(int(rows_lit.min()), int(rows_lit.max()) + 1)
    cols = slice(int(cols_lit.min()), int(cols_lit.max()) + 1)
    # The weight in 8 bits: a third of the memory to fill than in float, for a glow within a level of it.
    weight8 = np.rint(weight[rows, cols] * 255.0).astype(np.uint8)
    glow = cv2.multiply(base[rows, cols], cv2.merge([weight8] * 3), scale=1.0 / 255.0, dtype=cv2.CV_8U)
    return LightSwell(glow=glow, gain=swell.astype(np.float64), rows=rows, cols=cols)
