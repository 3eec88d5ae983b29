"""GPU engine: image-to-video diffusion models from diffusers, behind the presets in presets.py.

torch and diffusers are imported only when a clip is rendered, and CUDA is first touched there too: a
Celery parent that imports this module before forking its workers never initialises CUDA.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias

import numpy as np
from PIL import Image

from app.config import Settings
from worker.engines.base import Engine, EngineError, MotionSpec, ProgressFn
from worker.engines.postprocess import finish, letterbox, to_uint8
from worker.engines.presets import PRESETS, Offload, Plan, Preset, get_preset, require_weights

if TYPE_CHECKING:
    import torch

# Each preset's pipeline class has its own call signature and memory methods; diffusers' shared base
# class declares none of those we use, so pipelines are typed as what they are to us: duck-typed.
Pipeline: TypeAlias = Any

# Share of the progress bar given to denoising; decoding and post-processing take the rest.
_DENOISE_SHARE = 0.9


@dataclass(frozen=True)
class GpuOptions:
    """Memory and precision settings (VIVANT_GPU_OFFLOAD, VIVANT_GPU_DTYPE, VIVANT_VAE_TILING)."""

    offload: Offload | Literal["auto"] = "auto"  # auto: by the preset's needs and the card's memory
    dtype: Literal["bf16", "fp16"] = "bf16"
    vae_tiling: bool | None = None  # None: the preset's default
    # Run on the CPU when no GPU is present: only sensible for tests with tiny pipelines.
    allow_cpu: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> GpuOptions:
        return cls(
            offload=settings.gpu_offload,
            dtype=settings.gpu_dtype,
            vae_tiling=settings.vae_tiling,
            allow_cpu=settings.gpu_allow_cpu,
        )


@dataclass
class _Loaded:
    preset: str
    pipe: Pipeline
    device: torch.device


def _torch() -> Any:
    try:
        import diffusers  # noqa: F401
        import torch
    except ImportError:
        raise EngineError(
            "the diffusers engine needs the gpu extra (torch, diffusers): pip install 'vivant[gpu]'"
        ) from None
    return torch


def pick_dtype(device: torch.device, options: GpuOptions) -> torch.dtype:
    torch = _torch()
    if device.type == "cpu":
        # Half precision on the CPU is slow and poorly supported; the CPU path exists for tests.
        return torch.float32
    return torch.bfloat16 if options.dtype == "bf16" else torch.float16


def choose_offload(preset: Preset, device: torch.device, options: GpuOptions) -> Offload:
    """The memory mode: as configured, or ("auto") by the preset's needs and the card's memory."""
    if device.type == "cpu":
        return "none"
    if options.offload != "auto":
        return options.offload
    total_gb = _torch().cuda.get_device_properties(device).total_memory / 2**30
    if total_gb >= preset.offload_below_gb:
        return "none"
    return "model" if total_gb >= preset.group_offload_below_gb else "group"


def place_pipeline(pipe: Pipeline, preset: Preset, device: torch.device, options: GpuOptions) -> Offload:
    """Put the pipeline on the device with the memory settings it needs there; returns the mode used."""
    offload = choose_offload(preset, device, options)
    if offload == "none":
        pipe.to(device)
    elif offload == "model":
        # Whole models move to the GPU in turn (text encoder, transformer, VAE): little speed lost.
        pipe.enable_model_cpu_offload(device=device)
    else:
        # Layers stream to the GPU as they run, overlapped with compute: slower, but fits small cards.
        pipe.enable_group_offload(
            onload_device=device,
            offload_device=_torch().device("cpu"),
            offload_type="leaf_level",
            use_stream=True,
        )
    tiling = preset.vae_tiling if options.vae_tiling is None else options.vae_tiling
    # Tiling bounds the decoder's memory on big frames. (Slicing only helps batches, and we render one.)
    if tiling and hasattr(pipe.vae, "enable_tiling"):
        pipe.vae.enable_tiling()
    return offload


def image_inputs(plan: Plan, photo: Image.Image) -> dict[str, Any]:
    """The pipeline arguments that carry the photo."""
    if plan.end_pin > 0:
        # LTX: the photo conditions the first frame fully and the last frame as firmly as the plan says.
        return {
            "image": [photo, photo],
            "frame_index": [0, plan.num_frames - 1],
            "strength": [1.0, plan.end_pin],
        }
    return {"image": photo}


class DiffusersEngine(Engine):
    name: ClassVar[str] = "diffusers"
    queue: ClassVar[str] = "gpu"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        options: GpuOptions | None = None,
        presets: dict[str, Preset] | None = None,
    ):
        self._settings = settings or Settings()
        self._options = options or GpuOptions.from_settings(self._settings)
        self._presets = presets or PRESETS
        # One pipeline per process, kept between clips; the lock also keeps two threads from sharing it
        # mid-generation (a pipeline holds per-call state).
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    def _frames(
        self, image: np.ndarray, spec: MotionSpec, progress: ProgressFn, facts: dict[str, Any]
    ) -> Iterator[np.ndarray]:
        preset = get_preset(spec.preset, self._presets)
        plan = preset.plan(image.shape[1], image.shape[0], spec)
        canvas, box = letterbox(image, plan.width, plan.height)
        with self._lock:
            loaded = self._pipeline(preset)
            generated = self._generate(loaded, plan, canvas, spec.seed, progress)
        n = spec.frame_count
        for index, frame in enumerate(
            finish(generated, photo=image, box=box, spec=spec, time_span=plan.time_span)
        ):
            progress(_DENOISE_SHARE + (1 - _DENOISE_SHARE) * (index + 1) / n)
            yield frame

    # 1. Device -------------------------------------------------------------------------

    def _device(self) -> torch.device:
        torch = _torch()
        if torch.cuda.is_available():
            return torch.device("cuda")
        if self._options.allow_cpu:
            return torch.device("cpu")
        raise EngineError(
            "the diffusers engine needs an NVIDIA GPU and this worker has none (torch sees no CUDA device): "
            "run the gpu queue on a machine with a GPU, or render with the parallax engine"
        )

    # 2. Loading, once per process --------------------------------------------------------------------

    def _pipeline(self, preset: Preset) -> _Loaded:
        if self._loaded is not None and self._loaded.preset == preset.name:
            return self._loaded
        device = self._device()
        weights = require_weights(preset, self._settings)
        self._release()
        import diffusers

        dtype = pick_dtype(device, self._options)
        components: dict[str, Any] = {}
        try:
            if weights.transformer_file is not None:
                # The distilled transformer ships as a single checkpoint; its config comes from the folder.
                components["transformer"] = diffusers.LTXVideoTransformer3DModel.from_single_file(
                    str(weights.transformer_file),
                    config=str(weights.folder),
                    subfolder="transformer",
                    dtype=dtype,
                    local_files_only=True,
                )
            pipe = getattr(diffusers, preset.pipeline).from_pretrained(
                weights.folder, dtype=dtype, variant=preset.variant, local_files_only=True, **components
            )
        except (OSError, ValueError) as exc:
            raise EngineError(
                f"could not load preset {preset.name!r} from {weights.folder}: {exc}. The files may be "
                f"incomplete or damaged: run `vivant models pull {preset.name}` again"
            ) from exc
        pipe.set_progress_bar_config(disable=True)
        place_pipeline(pipe, preset, device, self._options)
        self._loaded = _Loaded(preset.name, pipe, device)
        return self._loaded

    def _release(self) -> None:
        """Drop the pipeline of another preset before loading the next: two rarely fit on one card."""
        if self._loaded is None:
            return
        device = self._loaded.device
        self._loaded = None
        gc.collect()
        if device.type == "cuda":
            _torch().cuda.empty_cache()

    # 3. Generation -----------------------------------------------------------------------------------

    def _generate(
        self, loaded: _Loaded, plan: Plan, canvas: np.ndarray, seed: int, progress: ProgressFn
    ) -> np.ndarray:
        torch = _torch()
        kwargs = {**plan.kwargs, **image_inputs(plan, Image.fromarray(canvas))}

        def on_step(pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
            total = pipe.num_timesteps or plan.kwargs["num_inference_steps"]
            progress(_DENOISE_SHARE * min(1.0, (step + 1) / total))
            return callback_kwargs

        # A CPU generator gives the same noise for a seed on every machine and card.
        generator = torch.Generator("cpu").manual_seed(seed)
        with torch.inference_mode():
            result = loaded.pipe(
                **kwargs, generator=generator, output_type="np", callback_on_step_end=on_step
            )
        frames = np.asarray(result.frames[0])
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise EngineError(
                f"preset {loaded.preset!r} gave frames shaped {frames.shape}, not (count, height, width, 3)"
            )
        return to_uint8(frames)
