"""One clip from one file, with no server, database or queue (`vivant animate`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from app.defaults import DEFAULT_DEPTH
from app.images import ImageRejected, load_photo_rgb
from worker.choices import Ambient, Camera, DepthMode, Strength

if TYPE_CHECKING:
    import numpy as np

    from worker.engines.base import Engine, MotionSpec, ProgressFn
    from worker.render import RenderResult


def animate_file(
    photo: Path,
    output: Path,
    *,
    engine: str = "parallax",
    preset: str | None = None,
    strength: Strength = "gentle",
    camera: Camera = "auto",
    ambient: Ambient = "auto",
    seconds: float = 4.0,
    fps: int = 24,
    long_side: int = 1280,
    loop: bool = False,
    seed: int = 0,
    keep_still: Path | None = None,
    depth: DepthMode = DEFAULT_DEPTH,
    model_dir: Path | None = None,
    all_metrics: bool = False,
    progress: ProgressFn,
    max_pixels: int,
) -> RenderResult:
    """Raises ValueError with a message for the person at the terminal.

    Only the motion the strength gate acts on is measured unless `all_metrics` is set: there is no
    clip page here to show the rest, and measuring it costs about a tenth more time."""

    def read() -> tuple[np.ndarray, Engine, MotionSpec]:
        # Without a mask, decoding at reduced size is free speed; a mask is drawn at the photo's size.
        image = load_photo_rgb(photo, max_pixels=max_pixels, max_side=None if keep_still else long_side)
        from worker.engines import get_engine
        from worker.engines.base import MotionSpec
        from worker.engines.learned_depth import DepthOptions
        from worker.engines.parallax import ParallaxEngine

        spec = MotionSpec(
            seconds=seconds,
            fps=fps,
            strength=strength,
            camera=camera,
            ambient=ambient,
            loop=loop,
            seed=seed,
            long_side=long_side,
            preset=preset,
        )
        if engine == "parallax":  # this one process has the cores to itself
            motion_engine: Engine = ParallaxEngine(depth=DepthOptions(depth, model_dir, processes=1))
        else:
            motion_engine = get_engine(engine)
        motion_engine.prepare(image, spec)
        return image, motion_engine, spec

    # The photo decodes and the engine reads it on a helper thread while the encoder and the measures load
    # here: the decoders and OpenCV release the GIL, imports hold it.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read") as pool:
        reading = pool.submit(read)
        # The engine first: the helper needs it as soon as the photo is decoded.
        import worker.engines.parallax  # noqa: F401
        from worker.engines.base import EngineError
        from worker.masks import load_keep_still_mask
        from worker.render import render_clip

        try:
            image, motion_engine, spec = reading.result()
        except (ImageRejected, EngineError) as exc:
            raise ValueError(f"{photo.name}: {exc}") from None
    try:
        if keep_still is not None:
            mask = load_keep_still_mask(keep_still, (image.shape[1], image.shape[0]))
            spec = replace(spec, keep_still=mask)
        output.parent.mkdir(parents=True, exist_ok=True)
        return render_clip(
            motion_engine,
            image,
            spec,
            video_path=output,
            poster_path=output.with_suffix(".jpg"),
            progress=progress,
            all_metrics=all_metrics,
        )
    except (ImageRejected, EngineError) as exc:
        raise ValueError(f"{photo.name}: {exc}") from None
