"""CPU engine: the photo gently opened into depth; no model weights needed.

From a depth and subject estimate (worker/engines/depth.py; with VIVANT_DEPTH=auto its depth comes from a
learned model where `vivant models pull depth` fetched one, see learned_depth.py) it builds a few
displacement fields once, per pixel: a lateral camera shift (displacement proportional to the distance
from the subject's depth plane), a dolly (near things grow more than far ones, around the face) and a
sitter's breath (chest and head rise by a fraction of a percent), plus the scene's own ambient motion where
it has some (a drifting sky, shimmering water, stirring leaves: worker/engines/ambient.py). Each frame is
then one backward warp (cv2.remap) of the resized photo through `grid + sum(coefficient * field)`, the
coefficients coming from the camera path (worker/engines/camera.py); composing a frame costs a few vector
passes, not a per-pixel Python loop.

Borders: each frame zooms in at least as far as its own displacement needs (found on the border ring),
so no source coordinate leaves the photo (no black, empty or smeared edges); the zoom grows with the
motion from zero, so frame 0, at rest, is the photo itself.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import cv2
import numpy as np

from worker.choices import AmbientKind
from worker.engines.ambient import Ambient, LightSwell, find_regions, plan_ambient
from worker.engines.base import Engine, MotionSpec, ProgressFn, output_size, resize_to
from worker.engines.camera import CameraPath, camera_path, choose_camera
from worker.engines.depth import Scene, estimate_scene, upsample, working_copy
from worker.engines.learned_depth import DepthOptions, learned_depth
from worker.engines.regions import Region

if TYPE_CHECKING:
    from app.config import Settings

# Multiplier of every motion per strength; spec.amplitude scales it further.
_STRENGTH = {"whisper": 0.5, "gentle": 1.0, "lively": 1.8}
# Lateral move, as fractions of the clip's long side: the rigid pan of the whole view, and the extra
# slide between the subject's plane and depth 0 or 1. The slide is what reads as depth, but it also
# stretches the photo where the depth changes: a percent or two is depth, more is a wobble.
_PAN = 0.02
_SHIFT = 0.012
# A loop goes out and comes back in the time a straight clip goes out once, so it moves about twice
# as fast; on finely textured photos (railings, rows of glasses) that speed reads as flicker. The pan
# shows no depth, so a loop pans 0.6 as far and keeps the whole slide, which is what reads as depth.
_LOOP_PAN = 0.6
# Dolly: the zoom of the whole view, and the extra scale of depth 1 over depth 0, at the end of the push.
_ZOOM = 0.02
_PUSH = 0.04
# Breath: rise of the shoulders as a fraction of the torso's height.
_BREATH = 0.006
# Width of the soft band just outside a keep-still region, as a fraction of the long side.
_FEATHER = 0.03
# Frames rendered ahead of the one being encoded.
_AHEAD = 3
# Rows warped at a time: a strip's two maps (160 KB at 1280 px wide) stay in the CPU's cache.
_STRIP_ROWS = 16
# Headroom on the border zoom, so rounding never puts a source coordinate on the photo's edge.
_MARGIN_SAFETY = 1.03


@dataclass
class _Axis:
    """One map axis (x: along the columns, y: down the rows): zoom centre, depth-dependent (field,
    per-frame coefficient) terms and a rigid per-frame pan in pixels, on the identity grid."""

    along: Literal["x", "y"]
    shape: tuple[int, int]  # the clip's (height, width)
    centre: float
    terms: list[tuple[np.ndarray, np.ndarray]]
    pan: np.ndarray
    # Set by hold_still(): the zoom and the pan as fields, zero on the keep-still region.
    rigid_fields: tuple[np.ndarray, np.ndarray] | None = None

    def __post_init__(self) -> None:
        # The identity grid of one strip. Down the rows it is the same for every strip but for a constant,
        # added in compose: no frame reads a whole-frame grid from memory (5-7 MB a frame at 1280 px).
        self._local = self._grid_rows(min(_STRIP_ROWS, self.shape[0]))

    @property
    def size(self) -> int:
        return self.shape[1] if self.along == "x" else self.shape[0]

    def grid(self) -> np.ndarray:
        """The whole frame's identity grid along this axis."""
        return self._grid_rows(self.shape[0])

    def _grid_rows(self, count: int) -> np.ndarray:
        """The grid of the first `count` rows."""
        width = self.shape[1]
        if self.along == "x":
            return np.repeat(np.arange(width, dtype=np.float32)[None, :], count, axis=0)
        return np.repeat(np.arange(count, dtype=np.float32)[:, None], width, axis=1)

    def offsets_at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(frames, points) source offsets before the zoom, at the given pixels, for the border check."""
        total = np.repeat(self.pan[:, None].astype(np.float32), len(rows), axis=1)
        for field, coef in self.terms:
            total += coef[:, None] * field[rows, cols][None, :]
        return total

    def hold_still(self, weight: np.ndarray) -> None:
        """Scale every motion by `weight`: where it is 0 the map is the identity, exactly."""
        self.terms = [(field * weight, coef) for field, coef in self.terms]
        self.rigid_fields = ((self.centre - self.grid()) * weight, weight)

    def weights(self, index: int, zoom: float) -> _Weights:
        """Frame `index`'s map as scale * grid + offset + sum(coefficient * field), once a frame."""
        active = [(field, float(coef[index])) for field, coef in self.terms]
        pan = float(self.pan[index])
        if self.rigid_fields is None:
            # With no keep-still mask, zoom and pan are affine: free in addWeighted's alpha and gamma.
            scale, offset = 1.0 - zoom, zoom * self.centre + pan
        else:
            scale, offset = 1.0, 0.0
            active[:0] = [(self.rigid_fields[0], zoom), (self.rigid_fields[1], pan)]
        return _Weights(scale, offset, [(field, coef) for field, coef in active if coef != 0.0])

    def compose(self, weights: _Weights, out: np.ndarray, rows: slice) -> np.ndarray:
        """The map on `rows`, into `out` (as many rows): one pass a term."""
        start, stop, _ = rows.indices(self.shape[0])
        count = stop - start
        grid = self._local[:count] if count <= len(self._local) else self._grid_rows(count)
        offset = weights.offset + (weights.scale * start if self.along == "y" else 0.0)
        if not weights.terms:
            return cv2.addWeighted(grid, weights.scale, grid, 0.0, offset, dst=out)
        field, coef = weights.terms[0]
        cv2.addWeighted(grid, weights.scale, field[rows], coef, offset, dst=out)
        for field, coef in weights.terms[1:]:
            cv2.addWeighted(out, 1.0, field[rows], coef, 0.0, dst=out)
        return out


@dataclass(frozen=True)
class _Weights:
    scale: float
    offset: float
    terms: list[tuple[np.ndarray, float]]


def _still_weight(mask: np.ndarray, size: tuple[int, int], feather: float) -> tuple[np.ndarray, np.ndarray]:
    """The mask at the clip's size (nearest, undilated) and a motion weight: 0 on it, easing to 1 outside."""
    still = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    distance = cv2.distanceTransform((still == 0).astype(np.uint8), cv2.DIST_L2, 3)
    ramp = np.clip(distance / max(feather, 1.0), 0.0, 1.0)
    return still, (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)


def _border_zoom(x: _Axis, y: _Axis, frames: int) -> np.ndarray:
    """Per frame, the smallest zoom (0 = none) that keeps every source coordinate inside the photo.

    Checked on the border ring (every other pixel): the fields are smooth and never fold, so a pixel
    inside cannot reach further out than the border pixel beside it.
    """
    h, w = y.size, x.size
    along_w, along_h = np.r_[0:w:2, w - 1], np.r_[0:h:2, h - 1]
    cols = np.r_[along_w, along_w, np.zeros_like(along_h), np.full_like(along_h, w - 1)]
    rows = np.r_[np.zeros_like(along_w), np.full_like(along_w, h - 1), along_h, along_h]
    need = np.zeros(frames, np.float32)
    for axis, points in ((x, cols), (y, rows)):
        source = points[None, :] + axis.offsets_at(rows, cols)
        towards = (axis.centre - points).astype(np.float32)
        # Zooming by m moves a source coordinate p to p + m * (centre - p): solve for the m that brings
        # it back inside [0, size - 1]; points on the centre line cannot be helped by a zoom and need none.
        low = np.where(towards > 0, -source / np.maximum(towards, 1e-6), 0.0)
        high = np.where(towards < 0, (source - (axis.size - 1)) / np.maximum(-towards, 1e-6), 0.0)
        need = np.maximum(need, np.maximum(low, high).max(axis=1))
    return np.clip(need * _MARGIN_SAFETY, 0.0, 0.5)


@dataclass
class _Plan:
    base: np.ndarray
    x: _Axis
    y: _Axis
    zoom: np.ndarray
    still: np.ndarray | None
    light: LightSwell | None = None

    def __post_init__(self) -> None:
        strip = (min(_STRIP_ROWS, self.y.size), self.x.size)
        self._strip = (np.empty(strip, np.float32), np.empty(strip, np.float32))

    def at_rest(self, index: int) -> bool:
        """Nothing moves in this frame (a still camera with no breath): it is the photo itself."""
        return (
            self.zoom[index] == 0.0
            and (self.light is None or self.light.gain[index] == 0.0)
            and not any(
                axis.pan[index] != 0.0 or any(coef[index] != 0.0 for _, coef in axis.terms)
                for axis in (self.x, self.y)
            )
        )

    def maps(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Where each pixel of frame `index` samples the photo, the whole frame at once (new arrays)."""
        zoom = float(self.zoom[index])
        whole = slice(0, self.y.size)
        out = (np.empty(self.x.shape, np.float32), np.empty(self.y.shape, np.float32))
        return (
            self.x.compose(self.x.weights(index, zoom), out[0], whole),
            self.y.compose(self.y.weights(index, zoom), out[1], whole),
        )

    def frame(self, index: int) -> np.ndarray:
        """Frame `index`, warped a strip of rows at a time: a strip's maps are made and used while they
        are still in the CPU's cache (whole-frame maps, 13 MB at 1280x1280, are written out to memory and
        read back: a quarter more CPU time). The strip buffers are reused, so frames are made one at a
        time (the engine makes them on one thread)."""
        if self.at_rest(index):
            return self.base.copy()
        source = self.base if self.light is None else self.light.source(self.base, index)
        frame = np.empty_like(self.base)
        zoom = float(self.zoom[index])
        weights_x, weights_y = self.x.weights(index, zoom), self.y.weights(index, zoom)
        height = self.y.size
        for start in range(0, height, _STRIP_ROWS):
            rows = slice(start, min(start + _STRIP_ROWS, height))
            count = rows.stop - start
            map_x = self.x.compose(weights_x, self._strip[0][:count], rows)
            map_y = self.y.compose(weights_y, self._strip[1][:count], rows)
            cv2.remap(
                source, map_x, map_y, cv2.INTER_LINEAR, dst=frame[rows], borderMode=cv2.BORDER_REFLECT_101
            )
        if self.still is not None:
            # The motion is already zero there; the copy makes "not one pixel moves" hold by construction.
            cv2.copyTo(self.base, self.still, frame)
        return frame


def _folded(
    terms: list[tuple[np.ndarray, np.ndarray]], extra: list[tuple[np.ndarray, np.ndarray]]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`terms` and `extra` together, each extra term whose coefficients are in proportion to a term's
    folded into that term's field: one full-frame pass a frame instead of two (a drifting sky keeps time
    with a drifting camera). Where the extra field is zero the term's field is unchanged to the bit."""
    merged = list(terms)
    for field, coef in extra:
        for index, (base_field, base_coef) in enumerate(merged):
            peak = int(np.argmax(np.abs(base_coef)))
            if base_coef[peak] == 0.0:
                continue
            ratio = coef[peak] / base_coef[peak]
            if np.allclose(coef, ratio * base_coef, rtol=0.0, atol=1e-9):
                merged[index] = (base_field + np.float32(ratio) * field, base_coef)
                break
        else:
            merged.append((field, coef))
    return merged


def _plan(
    base: np.ndarray, scene: Scene, spec: MotionSpec, path: CameraPath, ambient: Ambient | None = None
) -> _Plan:
    """Fields and per-frame coefficients for the whole clip, computed once."""
    h, w = base.shape[:2]
    long_side = max(h, w)
    amp = _STRENGTH[spec.strength] * spec.amplitude
    relative = upsample(scene.depth, (w, h)) - np.float32(scene.focal_depth)
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    fx, fy = scene.focus[0] * w, scene.focus[1] * h

    # 1. Lateral move: the whole view pans, and things off the subject's plane slide against it. The
    # warp is backward: a camera moving right samples further right.
    pan = path.shift * (_PAN * amp * long_side * (_LOOP_PAN if spec.loop else 1.0))
    shift = relative * np.float32(_SHIFT * amp * long_side)
    x_terms = [(shift, path.shift[:, 0])]
    y_terms = [(shift, path.shift[:, 1])]
    # 2. Dolly: the view zooms in, and near things grow about the focus more than far ones.
    if path.push.any():
        push = np.float32(_PUSH * amp)
        x_terms.append((relative * (xs - np.float32(fx)) * push, -path.push))
        y_terms.append((relative * (ys - np.float32(fy)) * push, -path.push))
    # 3. Breath: shoulders rise, the head rides on them unchanged (a stretched neck looks rubbery).
    if scene.faces and path.breath.any():
        _, face_y, _, face_h = scene.faces[0]
        shoulders = (face_y + 1.3 * face_h) * h / scene.depth.shape[0]
        lift = np.minimum(np.float32(h - 1) - ys, np.float32(h - 1 - shoulders)).clip(0.0)
        y_terms.append((upsample(scene.subject, (w, h)) * lift * np.float32(_BREATH * amp), path.breath))
    # Ambient motion: its fields are zero on the border ring, so the border zoom below is the camera's alone.
    if ambient is not None:
        x_terms = _folded(x_terms, ambient.x_terms)
        y_terms = _folded(y_terms, ambient.y_terms)
    x_terms = [(f.astype(np.float32, copy=False), c) for f, c in x_terms if c.any()]
    y_terms = [(f.astype(np.float32, copy=False), c) for f, c in y_terms if c.any()]

    # 4. Zoom about the subject (pushes) or the frame's centre, kept off the edges: the dolly's own
    # zoom plus the least that keeps every source coordinate inside the photo.
    centre = (fx, fy) if path.push.any() else (w / 2, h / 2)
    x = _Axis("x", (h, w), float(np.clip(centre[0], 0.3 * w, 0.7 * w)), x_terms, pan[:, 0])
    y = _Axis("y", (h, w), float(np.clip(centre[1], 0.3 * h, 0.7 * h)), y_terms, pan[:, 1])
    zoom = _border_zoom(x, y, spec.frame_count) + path.push * (_ZOOM * amp)

    # 5. A keep-still region gets weight 0: every motion, zoom and pan included, vanishes on it.
    still = None
    if spec.keep_still is not None:
        still, weight = _still_weight(spec.keep_still, (w, h), _FEATHER * long_side)
        x.hold_still(weight)
        y.hold_still(weight)
    return _Plan(
        base=base, x=x, y=y, zoom=zoom, still=still, light=None if ambient is None else ambient.light
    )


def _ambient(
    base: np.ndarray,
    scene: Scene,
    spec: MotionSpec,
    path: CameraPath,
    regions: dict[AmbientKind, Region] | None,
) -> Ambient:
    """The scene's own motion, from find_regions' regions (None: not looked for, as with ambient off)."""
    if spec.ambient == "off" or regions is None:
        return Ambient()
    strength = _STRENGTH[spec.strength] * spec.amplitude
    # The sky drifts the way the far plane slides under the camera's lateral move (see _plan's step 1).
    far = (0.0 - scene.focal_depth) * path.shift[:, 0]
    side = float(np.sign(far[np.argmax(np.abs(far))])) if far.any() else None
    return plan_ambient(base=base, scene=scene, spec=spec, regions=regions, strength=strength, sky_side=side)


def _base(image: np.ndarray, spec: MotionSpec) -> np.ndarray:
    """The photo at the clip's size: the first frame, and what every other frame is warped from."""
    return resize_to(image, output_size(image.shape[1], image.shape[0], spec.long_side))


@dataclass(frozen=True)
class _Reading:
    """What the engine reads of a photo at the clip's size before any frame. It does not depend on the
    amplitude, so the strength gate's second render reuses it."""

    scene: Scene
    depth: str  # "learned" or "estimate"
    regions: dict[AmbientKind, Region] | None  # None: not looked for (ambient off)


class ParallaxEngine(Engine):
    name: ClassVar[str] = "parallax"
    queue: ClassVar[str] = "cpu"

    def __init__(self, settings: Settings | None = None, *, depth: DepthOptions | None = None):
        """`depth` stands in for the settings where a caller has none (`vivant animate`)."""
        if depth is None:
            from app.config import Settings

            depth = DepthOptions.from_settings(settings or Settings())
        self._depth = depth
        # The reading of the last photo, by a digest of its pixels at the clip's size: a re-render at
        # another amplitude (and a render after `prepare`) must not read it again.
        self._lock = threading.Lock()
        self._last: tuple[bytes, _Reading] | None = None

    def scene(self, base: np.ndarray) -> tuple[Scene, str]:
        """The scene of the photo at the clip's size, and which depth it has: "learned" or "estimate"."""
        reading = self._read(base, regions=False)
        return reading.scene, reading.depth

    def prepare(self, image: np.ndarray, spec: MotionSpec) -> None:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parallax") as pool:
            self._read(_base(image, spec), regions=spec.ambient != "off", pool=pool)

    def _read(self, base: np.ndarray, *, regions: bool, pool: ThreadPoolExecutor | None = None) -> _Reading:
        """The photo's reading, from the last one when it is of these pixels. With `pool`, the ambient
        regions and the scene's layout are looked for on its thread while this one finds the subject."""
        key = hashlib.blake2b(base.tobytes(), digest_size=16).digest()
        with self._lock:
            last = self._last[1] if self._last is not None and self._last[0] == key else None
        if last is not None and (last.regions is not None or not regions):
            return last
        looking = None
        if regions and pool is not None:
            looking = pool.submit(find_regions, working_copy(base))
        if last is not None:
            scene, depth = last.scene, last.depth
        else:
            hint = learned_depth(base, self._depth)
            scene = estimate_scene(base, depth_hint=hint, pool=pool)
            depth = "estimate" if hint is None else "learned"
        found = None
        if regions:
            found = looking.result() if looking is not None else find_regions(working_copy(base))
        reading = _Reading(scene=scene, depth=depth, regions=found)
        with self._lock:
            self._last = (key, reading)
        return reading

    def _planned(
        self, base: np.ndarray, spec: MotionSpec, facts: dict[str, Any], pool: ThreadPoolExecutor
    ) -> _Plan:
        """All that comes before the second frame: the photo's reading, the camera's path, the scene's
        own motion and the fields."""
        reading = self._read(base, regions=spec.ambient != "off", pool=pool)
        facts["depth"] = reading.depth
        camera = choose_camera(spec.camera, has_person=reading.scene.has_person)
        path = camera_path(camera, frames=spec.frame_count, fps=spec.fps, loop=spec.loop, seed=spec.seed)
        ambient = _ambient(base, reading.scene, spec, path, reading.regions)
        facts["ambient"] = list(ambient.kinds)
        return _plan(base, reading.scene, spec, path, ambient)

    def _frames(
        self, image: np.ndarray, spec: MotionSpec, progress: ProgressFn, facts: dict[str, Any]
    ) -> Iterator[np.ndarray]:
        base = _base(image, spec)
        # Two helper threads (OpenCV releases the GIL). One plans the clip while the caller encodes the
        # first frame, the photo at rest; the other looks for the ambient regions and the scene's layout
        # meanwhile, then renders frames a few ahead while the caller encodes and measures earlier ones.
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="parallax") as pool,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="parallax-plan") as planner,
        ):
            planning = planner.submit(self._planned, base, spec, facts, pool)
            n = spec.frame_count
            yield base.copy()
            progress(1 / n)
            plan = planning.result()
            ahead: deque[Future[np.ndarray]] = deque()
            try:
                for index in range(1, n):
                    while len(ahead) < _AHEAD and index + len(ahead) < n:
                        ahead.append(pool.submit(plan.frame, index + len(ahead)))
                    yield ahead.popleft().result()
                    progress((index + 1) / n)
            finally:
                for future in ahead:
                    future.cancel()
