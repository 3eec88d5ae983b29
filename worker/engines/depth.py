"""Depth and subject from the photo alone, with no model weights.

The subject: a frontal face (OpenCV's bundled Haar cascade) decides; without one, what is salient, in
focus and central. Either seeds a GrabCut segmentation, snapped to the photo's edges by a guided filter
so the layer follows hair and shoulders.

The depth behind it combines cues that hold for most photos (worker/engines/cues.py): the layout (lower
is nearer, or, where receding lines meet at a vanishing point, far towards that point), defocus (with a
shallow depth of field the sharp plane is near), colour saliency, and the sky (worker/engines/regions.py),
which is always the farthest. The mix is averaged per superpixel, so depth changes where objects end
and not across their texture, and the subject stands in front: a person as one flat layer, anything
else rounded, its middle nearest. Texture in a depth map makes walls and skies swim, so the result is
smooth within regions.

Everything runs on a small copy of the photo (tens of milliseconds); a learned depth map can be given
instead of the cues (`depth_hint`).
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from worker.engines.cues import (
    Focus,
    Vanishing,
    defocus,
    guided_filter,
    lab8,
    normalise,
    perspective_ramp,
    region_mean,
    superpixels,
    vanishing_point,
)
from worker.engines.regions import sky_mask
from worker.stats import percentile

__all__ = ["Scene", "estimate_scene", "guided_filter", "spectral_saliency", "upsample", "working_copy"]

# Long side of the working copy: enough for faces of a tenth of the frame, cheap for GrabCut.
WORK_SIDE = 256
_SEGMENT_SIDE = 96
_GRABCUT_SEED = 7

# Depth levels (0 = farthest, 1 = nearest): the background spans _FAR.._BACK, the subject stands at
# _SUBJECT, and a subject that is not a person is rounded by +-_ROUNDING or more (its middle nearest).
_FAR, _BACK = 0.0, 0.55
_SUBJECT = 0.85
_ROUNDING = 0.15

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Scene:
    """What the engine needs to know about a photo, at the working size."""

    depth: np.ndarray  # float32 HxW, 0 = far .. 1 = near, smooth, edge-aligned
    subject: np.ndarray  # float32 HxW in 0..1, soft mask of the main subject
    faces: tuple[Box, ...]  # x, y, w, h at the working size, largest first
    focus: tuple[float, float]  # where the eye goes (face or subject centre), as fractions of w and h
    focal_depth: float  # depth at the focus: the plane the camera keeps still

    @property
    def has_person(self) -> bool:
        return bool(self.faces)


def working_copy(image: np.ndarray) -> np.ndarray:
    return _resized(image, WORK_SIDE)


@cache
def _face_cascade() -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(
        cv2.data.haarcascades + "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]  # not in the stubs
    )
    if cascade.empty():
        raise RuntimeError("OpenCV's Haar face cascade is missing; install opencv-python-headless 4.x")
    return cascade


def detect_faces(gray: np.ndarray) -> tuple[Box, ...]:
    """Frontal faces, largest first. A face under a tenth of the short side does not make a portrait."""
    min_side = max(20, round(0.1 * min(gray.shape)))
    found = _face_cascade().detectMultiScale(
        cv2.equalizeHist(gray), scaleFactor=1.15, minNeighbors=5, minSize=(min_side, min_side)
    )
    boxes: list[Box] = [(int(x), int(y), int(w), int(h)) for x, y, w, h in found] if len(found) else []
    return tuple(sorted(boxes, key=lambda b: -b[2] * b[3]))


def spectral_saliency(gray: np.ndarray) -> np.ndarray:
    """Spectral residual saliency (Hou & Zhang 2007), 0..1 at the size of `gray`."""
    small = cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
    spectrum = np.fft.fft2(small)
    log_amplitude = np.log(np.abs(spectrum) + 1e-6)
    residual = log_amplitude - cv2.blur(log_amplitude, (3, 3))
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    saliency = cv2.GaussianBlur(saliency.astype(np.float32), (0, 0), 3)
    saliency = cv2.resize(saliency, gray.shape[::-1], interpolation=cv2.INTER_LINEAR)
    return normalise(saliency)


def colour_saliency(rgb: np.ndarray) -> np.ndarray:
    """Spectral saliency of lightness and of both colour axes: a red flower on green leaves stands out
    in colour more than in brightness."""
    lab = lab8(rgb)
    return normalise(
        sum((spectral_saliency(lab[..., i]) for i in range(3)), np.zeros(lab.shape[:2], np.float32))
    )


def sharpness(gray: np.ndarray) -> np.ndarray:
    """Local focus, 0..1: Laplacian energy pooled over about a twentieth of the frame."""
    lap = np.abs(cv2.Laplacian(gray.astype(np.float32) / 255.0, cv2.CV_32F, ksize=3))
    return normalise(cv2.GaussianBlur(lap, (0, 0), max(2.0, 0.05 * max(gray.shape))))


def _centre_prior(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.exp(-(((x / w - 0.5) / 0.3) ** 2 + ((y / h - 0.55) / 0.35) ** 2)).astype(np.float32)


def _person_prior(h: int, w: int, face: Box) -> np.ndarray:
    """Head ellipse plus shoulders and torso below it, the usual shape of a portrait sitter."""
    prior = np.zeros((h, w), np.uint8)
    x, y, fw, fh = face
    cx = x + fw / 2
    cv2.ellipse(
        prior, (round(cx), round(y + fh * 0.45)), (round(fw * 0.6), round(fh * 0.8)), 0, 0, 360, 1, -1
    )
    neck = y + fh * 1.1
    torso = np.array(
        [[cx - fw * 0.5, neck], [cx + fw * 0.5, neck], [cx + fw * 1.6, neck + fh * 0.7], [cx + fw * 1.8, h],
         [cx - fw * 1.8, h], [cx - fw * 1.6, neck + fh * 0.7]],
        np.int32,
    )  # fmt: skip
    cv2.fillPoly(prior, [torso], 1)
    return prior.astype(np.float32)


def _segment(image: np.ndarray, prior: np.ndarray, core: np.ndarray | None) -> np.ndarray:
    """GrabCut seeded by a soft prior: likely-subject where the prior is high, likely-background elsewhere.

    Runs on a ~96 px copy (GrabCut is the slowest step); returns a 0/1 mask at the prior's size.
    """
    h, w = prior.shape
    scale = min(1.0, _SEGMENT_SIDE / max(h, w))
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_prior = cv2.resize(prior, size, interpolation=cv2.INTER_LINEAR)
    mask = np.where(small_prior > 0.5, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    if core is not None:
        mask[cv2.resize(core, size, interpolation=cv2.INTER_NEAREST) > 0] = cv2.GC_FGD
    # The top corners are almost never the subject; sure background there anchors the colour model.
    band = max(1, size[0] // 12)
    mask[:band, :band] = mask[:band, -band:] = cv2.GC_BGD
    if not (mask % 2 == 1).any():  # no subject seed at all: nothing for GrabCut to grow
        return prior
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # GrabCut seeds its colour models from OpenCV's per-thread random state, which every earlier call
    # in a long-lived worker has moved on: a fixed seed makes the same photo give the same clip.
    cv2.setRNGSeed(_GRABCUT_SEED)
    cv2.grabCut(small, mask, (0, 0, 0, 0), background, foreground, 2, cv2.GC_INIT_WITH_MASK)
    subject = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.uint8)
    # Keep the largest piece: specks of "subject" in the background would float on their own.
    count, labels, stats, _ = cv2.connectedComponentsWithStats(subject, connectivity=8)
    if count > 2:
        largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        subject = (labels == largest).astype(np.uint8)
    return cv2.resize(subject.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def estimate_scene(
    image: np.ndarray, *, depth_hint: np.ndarray | None = None, pool: Executor | None = None
) -> Scene:
    """Depth and subject of an RGB uint8 photo, computed on a working copy of WORK_SIDE px.

    `depth_hint` (float HxW in 0..1, 1 = near, any size), when given, is a depth map from elsewhere (a
    learned monocular model): it replaces the weight-free depth, while faces, subject and focus are
    still found from the photo. With `pool`, the layout cues that do not depend on the subject are found
    on its thread while this one looks for the subject.
    """
    # Blur is measured on a copy twice the working size: at 256 px slightly soft and sharp look alike.
    larger = _resized(image, 2 * WORK_SIDE)
    small = working_copy(larger)
    h, w = small.shape[:2]
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    layout = pool.submit(_Layout.of, small, gray) if pool is not None and depth_hint is None else None
    focus_map = defocus(cv2.cvtColor(larger, cv2.COLOR_RGB2GRAY), size=(w, h))
    salient = colour_saliency(small)

    # 1. Where is the subject? A face decides; otherwise what is salient, in focus and central.
    faces = detect_faces(gray)
    core = None
    if faces:
        prior = _person_prior(h, w, faces[0])
        core = np.zeros((h, w), np.uint8)
        x, y, fw, fh = faces[0]
        cv2.ellipse(core, (x + fw // 2, y + fh // 2), (fw // 3, fh // 3), 0, 0, 360, 1, -1)
    else:
        c = focus_map.confidence
        focused = c * focus_map.sharp + (1.0 - c) * sharpness(gray)
        cue = (0.5 * salient + focused) * _centre_prior(h, w)
        prior = (cue > percentile(cue, 65)).astype(np.float32)

    # 2. Segment it; a mask that is implausibly tiny or fills the frame falls back to the prior.
    subject = _segment(small, prior, core)
    area = float(subject.mean())
    if not 0.03 <= area <= 0.75:
        subject = prior
    # Snap the coarse mask to the photo's edges (guided feathering), so the layer follows hair.
    gray01 = gray.astype(np.float32) / 255.0
    radius = max(2, round(0.015 * max(h, w)))
    subject = np.clip(
        guided_filter(gray01, cv2.GaussianBlur(subject, (0, 0), 1.0), radius, eps=1e-3), 0.0, 1.0
    )

    # 3. Depth: given, or built from the cues with the subject standing in front. The last blur keeps
    # texture out of the depth: texture there would make fine detail wobble as the camera moves.
    if depth_hint is not None:
        depth = _hint_at(depth_hint, (w, h))
    else:
        found = layout.result() if layout is not None else _Layout.of(small, gray)
        depth = _weight_free_depth(small, gray, subject, focus_map, salient, found, rounded=not faces)
    depth = np.clip(cv2.GaussianBlur(depth, (0, 0), 1.5), 0.0, 1.0)

    if faces:
        x, y, fw, fh = faces[0]
        focus = ((x + fw / 2) / w, (y + fh / 2) / h)
    else:
        ys, xs = np.nonzero(subject > 0.5)
        focus = (float(xs.mean()) / w, float(ys.mean()) / h) if len(xs) else (0.5, 0.5)
    # The camera keeps the subject's plane still; its median depth ignores the soft layer edge.
    inside = subject > 0.5
    focal_depth = percentile(depth[inside], 50) if inside.any() else percentile(depth, 50)
    return Scene(
        depth=depth.astype(np.float32),
        subject=subject.astype(np.float32),
        faces=faces,
        focus=focus,
        focal_depth=focal_depth,
    )


@dataclass(frozen=True)
class _Layout:
    """The cues of the scene's layout, which do not depend on its subject."""

    vanishing: Vanishing | None
    regions: np.ndarray  # superpixel labels
    sky: np.ndarray  # 0..1

    @classmethod
    def of(cls, small: np.ndarray, gray: np.ndarray) -> _Layout:
        return cls(vanishing=vanishing_point(gray), regions=superpixels(small), sky=sky_mask(small))


def _weight_free_depth(
    small: np.ndarray,
    gray: np.ndarray,
    subject: np.ndarray,
    focus: Focus,
    salient: np.ndarray,
    found: _Layout,
    *,
    rounded: bool,
) -> np.ndarray:
    """The background from layout (a ground ramp, or a ramp towards the vanishing point), focus and
    saliency, made constant-ish per superpixel so it changes at objects' edges; the sky farthest; the
    subject in front, as one flat layer for a person and rounded (its middle nearest) for anything else."""
    h, w = gray.shape
    # 1. Layout: lower is nearer, unless receding lines say where the far point is. A room or a street
    # seen down its length has no one subject in front: the surer the perspective, the less the
    # segmented "subject" (usually just the middle of the frame there) stands out.
    layout = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None] * np.ones((1, w), np.float32)
    vanishing = found.vanishing
    if vanishing is not None:
        # Petals, spokes and a pen's edges also meet at a point; a close-up (shallow depth of field)
        # is seldom a view down a room, so its lines count for less.
        c = min(1.0, 2.0 * vanishing.confidence * (1.0 - focus.confidence))
        layout = ((1.0 - c) * layout + c * perspective_ramp((h, w), vanishing.point)).astype(np.float32)
        if rounded:
            subject = subject * (1.0 - c)
    # 2. What is in focus is near, when the depth of field is shallow enough to tell.
    weights = {"layout": 1.0, "focus": 1.2 * focus.confidence, "saliency": 0.3}
    cue = weights["layout"] * layout + weights["focus"] * focus.sharp
    cue = (cue + weights["saliency"] * salient) / sum(weights.values())
    # 3. One depth a region, then the sky pushed back to the far plane.
    cue = region_mean(cue, found.regions)
    cue = normalise(cue) * (1.0 - found.sky)
    background = _FAR + cue * (_BACK - _FAR)
    # 4. The subject stands in front.
    level = np.full((h, w), _SUBJECT, np.float32)
    if rounded:
        inside = (subject > 0.5).astype(np.uint8)
        distance = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
        bulge = np.sqrt(distance / max(float(distance.max()), 1.0))
        # A subject that fills the frame is close to the lens, where its own depth is a large part of
        # its distance: it is rounded more (up to twice as much).
        area = float(inside.mean())
        rounding = _ROUNDING * (1.0 + float(np.clip((area - 0.25) / 0.35, 0.0, 1.0)))
        level = np.minimum(1.0, level - rounding + 2.0 * rounding * bulge)
    depth = background + subject * (np.maximum(level, background) - background)
    gray01 = gray.astype(np.float32) / 255.0
    return guided_filter(gray01, depth, max(2, round(0.02 * max(h, w))), eps=1e-2)


def _hint_at(hint: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if hint.ndim != 2 or not hint.size:
        raise ValueError(f"depth_hint must be a 2-D map (H x W), got an array of shape {hint.shape}")
    values = np.nan_to_num(hint.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    shrink = size[0] < values.shape[1]
    resized = cv2.resize(values, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.clip(resized, 0.0, 1.0)


def _resized(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = min(1.0, side / max(h, w))
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def upsample(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A working-size map (depth, subject) at `size` (w, h).

    Plain bilinear: the maps already follow the photo's edges at the working size and are smooth.
    Snapping them again at full size (a guided filter) copies fine texture into them, and textured
    depth shimmers as the camera moves.
    """
    return cv2.resize(values, size, interpolation=cv2.INTER_LINEAR)
