"""The diffusers presets: which model, where its weights live, and how the motion controls map onto it.

Imported by the web app and `vivant models list`, which run without the gpu extra: nothing here may import
torch or diffusers. Where weights are looked for and how they are fetched is shared with the parallax
engine's depth model (weights.py); `vivant models` lists and pulls both.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.config import Settings
from worker.engines.base import EngineError, MotionSpec, Strength
from worker.engines.learned_depth import DEPTH_MODEL, refuse_other_sizes
from worker.engines.weights import (
    cached_snapshot,
    download,
    download_file,
    hf_cache_dir,
    local_folders,
    pull_folder,
)
from worker.engines.weights import expected_location as expected_folder

Offload = Literal["none", "model", "group"]

# Components that carry weights; the rest (tokenizer, scheduler, feature extractor) are configs only.
_WEIGHTED = {"unet", "transformer", "transformer_2", "vae", "text_encoder", "image_encoder"}
_WEIGHT_SUFFIXES = (".safetensors", ".bin")

_MOTION_WORDS: dict[Strength, str] = {
    "whisper": "It stays almost perfectly still: only the faintest breath of movement",
    "gentle": "Subtle, slow, natural movement: a soft breath, a slight shift of hair or cloth",
    "lively": "Calm natural movement: breathing, a blink, hair and leaves moving in a light breeze",
}
_CAMERA_WORDS = {
    "auto": "The camera stays steady.",
    "still": "The camera is completely still.",
    "push": "The camera pushes in very slowly.",
    "drift": "The camera drifts sideways very slowly.",
    "orbit": "The camera turns a few degrees around the subject, very slowly.",
}
# One negative prompt for every text-conditioned preset. Wan ships a default that lists "static picture"
# among the things to avoid, which pushes towards motion; ours pushes away from wildness instead.
NEGATIVE_PROMPT = (
    "fast motion, camera shake, sudden zoom, scene change, new people appearing, morphing face, distorted "
    "hands, extra fingers, warped background, flicker, colour shift, oversaturated, overexposed, blurry, "
    "low quality, jpeg artifacts, text, subtitles, watermark"
)


@dataclass(frozen=True)
class SingleFile:
    """A checkpoint file that replaces the transformer of the diffusers-format pipeline."""

    repo_id: str
    filename: str


@dataclass(frozen=True)
class Plan:
    """One generation, worked out from a preset and a motion spec before any model is touched."""

    width: int
    height: int
    num_frames: int
    kwargs: dict[str, Any]
    # Share of the generated clip that is played over the whole clip: below 1 the motion covers less ground.
    time_span: float = 1.0
    # LTX only: how firmly the last frame is pinned back to the photo (0: not at all, 1: exactly).
    end_pin: float = 0.0


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    repo_id: str
    pipeline: str  # diffusers class the engine instantiates
    licence: str  # in a word, for `vivant models list`
    download_gb: float
    allow_patterns: tuple[str, ...]
    sizes: tuple[tuple[int, int], ...]  # (width, height) the model was trained at, first = default
    native_fps: int
    min_frames: int
    max_frames: int
    frame_step: int  # frame counts must be frame_step * k + 1 (the VAE's temporal compression)
    steps: int
    offload_below_gb: float  # GPU memory below which "auto" offloads whole models to the CPU
    group_offload_below_gb: float  # ... and below which it offloads layer groups (slow, frugal)
    vae_tiling: bool
    variant: str | None = None
    single_file: SingleFile | None = None
    text: bool = True  # takes a prompt
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        if self.single_file:
            return f"{self.single_file.repo_id} ({self.single_file.filename}) with {self.repo_id}"
        return self.repo_id

    def plan(self, width: int, height: int, spec: MotionSpec) -> Plan:
        """Map the motion controls onto this pipeline's parameters for a photo of width x height."""
        gen_w, gen_h = self.generation_size(width, height)
        frames = self.frame_count(spec.seconds)
        kwargs: dict[str, Any] = {"height": gen_h, "width": gen_w, "num_frames": frames}
        kwargs["num_inference_steps"] = self.steps
        kwargs.update(self.params)
        if self.text:
            kwargs["prompt"] = prompt_for(spec)
            kwargs["negative_prompt"] = NEGATIVE_PROMPT
        amplitude = max(0.0, spec.amplitude)
        time_span, end_pin = 1.0, 0.0
        if self.pipeline == "StableVideoDiffusionPipeline":
            # SVD's own motion knob; low buckets keep the scene close to the photo.
            bucket = {"whisper": 12, "gentle": 28, "lively": 60}[spec.strength]
            kwargs["motion_bucket_id"] = max(1, round(bucket * amplitude))
        elif self.pipeline == "LTXConditionPipeline":
            # LTX has no motion knob, but can be conditioned on the photo at the last frame too: the
            # firmer that pin, the less the clip may wander (a loop pins it fully).
            freedom = {"whisper": 0.5, "gentle": 0.8, "lively": 1.0}[spec.strength] * amplitude
            end_pin = 1.0 if spec.loop else round(max(0.0, 1.0 - freedom), 3)
            kwargs["frame_rate"] = self.native_fps
        else:
            # Neither Wan TI2V nor CogVideoX I2V exposes a motion knob: play only the first part of the
            # generated motion, stretched over the clip, so the scene travels less far from the photo.
            time_span = min(1.0, max(0.25, amplitude))
        return Plan(gen_w, gen_h, frames, kwargs, time_span=time_span, end_pin=end_pin)

    def generation_size(self, width: int, height: int) -> tuple[int, int]:
        """The trained size whose aspect ratio is closest to the photo's (compared in log space)."""
        aspect = math.log(width / height)
        return min(self.sizes, key=lambda size: abs(math.log(size[0] / size[1]) - aspect))

    def frame_count(self, seconds: float) -> int:
        wanted = seconds * self.native_fps
        frames = round((wanted - 1) / self.frame_step) * self.frame_step + 1
        return min(self.max_frames, max(self.min_frames, frames))


def prompt_for(spec: MotionSpec) -> str:
    return (
        f"A real photograph gently coming to life. {_MOTION_WORDS[spec.strength]}. "
        f"{_CAMERA_WORDS[spec.camera]} Same people, same faces, same colours and lighting as the "
        "photograph; nothing new enters the frame."
    )


_DIFFUSERS_LAYOUT = (
    "model_index.json",
    "scheduler/*",
    "text_encoder/*",
    "tokenizer/*",
    "transformer/*",
    "vae/*",
)

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="svd-xt",
            title="Stable Video Diffusion XT 1.1",
            repo_id="stabilityai/stable-video-diffusion-img2vid-xt-1-1",
            pipeline="StableVideoDiffusionPipeline",
            licence="community",
            download_gb=4.3,
            # The fp16 files only: the repo also holds full-precision and single-file copies.
            allow_patterns=("*.json", "*.fp16.safetensors"),
            variant="fp16",
            sizes=((1024, 576), (576, 1024)),
            native_fps=7,
            min_frames=25,
            max_frames=25,
            frame_step=1,
            steps=25,
            offload_below_gb=20,
            group_offload_below_gb=10,
            vae_tiling=False,
            text=False,
            # noise_aug_strength: how much noise is added to the photo before conditioning; lower keeps
            # detail. XT 1.1 was tuned with fps=6 conditioning. decode_chunk_size bounds the decoder's memory.
            params={
                "noise_aug_strength": 0.02,
                "fps": 6,
                "min_guidance_scale": 1.0,
                "max_guidance_scale": 2.5,
                "decode_chunk_size": 8,
            },
        ),
        Preset(
            name="ltx",
            title="LTX-Video 2B distilled (fast)",
            repo_id="Lightricks/LTX-Video-0.9.5",
            pipeline="LTXConditionPipeline",
            licence="ltxv-open-weights",
            download_gb=16.5,
            # The distilled transformer comes as one file; of the 0.9.5 pipeline only its config is needed.
            allow_patterns=(
                "model_index.json",
                "scheduler/*",
                "text_encoder/*",
                "tokenizer/*",
                "vae/*",
                "transformer/config.json",
            ),
            single_file=SingleFile("Lightricks/LTX-Video", "ltxv-2b-0.9.6-distilled-04-25.safetensors"),
            sizes=((768, 512), (512, 768), (640, 640)),
            native_fps=24,
            min_frames=9,
            max_frames=257,
            frame_step=8,
            steps=8,
            offload_below_gb=24,
            group_offload_below_gb=12,
            vae_tiling=True,
            # The distilled model runs without classifier-free guidance. image_cond_noise_scale: noise
            # added to the photo's latent at each step; small keeps the photo, zero makes it freeze.
            params={
                "guidance_scale": 1.0,
                "image_cond_noise_scale": 0.025,
                "decode_timestep": 0.05,
                "decode_noise_scale": 0.025,
            },
        ),
        Preset(
            name="wan",
            title="Wan 2.2 TI2V 5B",
            repo_id="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
            pipeline="WanImageToVideoPipeline",
            licence="apache-2.0",
            download_gb=34.0,
            allow_patterns=_DIFFUSERS_LAYOUT,
            sizes=((1280, 704), (704, 1280)),
            native_fps=24,
            min_frames=9,
            max_frames=121,
            frame_step=4,
            steps=40,
            offload_below_gb=48,
            group_offload_below_gb=20,
            vae_tiling=True,
            params={"guidance_scale": 5.0},
        ),
        Preset(
            name="cogvideox",
            title="CogVideoX 5B I2V",
            repo_id="THUDM/CogVideoX-5b-I2V",
            pipeline="CogVideoXImageToVideoPipeline",
            licence="cogvideox",
            download_gb=21.5,
            allow_patterns=_DIFFUSERS_LAYOUT,
            # The I2V model only generates at its training size and length.
            sizes=((720, 480),),
            native_fps=8,
            min_frames=49,
            max_frames=49,
            frame_step=4,
            steps=50,
            offload_below_gb=32,
            group_offload_below_gb=16,
            vae_tiling=True,
            params={"guidance_scale": 6.0, "use_dynamic_cfg": True},
        ),
    )
}
DEFAULT_PRESET = "ltx"


def get_preset(name: str | None, presets: dict[str, Preset] = PRESETS) -> Preset:
    key = name or DEFAULT_PRESET
    try:
        return presets[key]
    except KeyError:
        raise EngineError(f"unknown preset {key!r}; choose one of {', '.join(presets)}") from None


# --- where weights live ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Weights:
    folder: Path  # diffusers-format pipeline folder
    transformer_file: Path | None = None  # replaces the folder's transformer weights when set


def _pipeline_complete(folder: Path, *, skip_weights: set[str]) -> bool:
    """True when model_index.json is there and every component it names has its files."""
    try:
        index = json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError):
        return False
    for component, spec in index.items():
        if component.startswith("_") or not isinstance(spec, list) or spec[0] is None:
            continue
        part = folder / component
        if not part.is_dir():
            return False
        if component in _WEIGHTED and component not in skip_weights:
            if not any(p.name.endswith(_WEIGHT_SUFFIXES) for p in part.iterdir()):
                return False
    return True


def locate_weights(preset: Preset, settings: Settings) -> Weights | None:
    """The preset's weights in VIVANT_MODEL_DIR (first) or the Hugging Face cache, or None when absent.

    In MODEL_DIR a complete diffusers folder wins; the single-file transformer is used where it lies next
    to (or, in the cache, beside) a pipeline folder that lacks transformer weights.
    """
    candidates: list[tuple[Path, Path | None]] = []
    for folder in local_folders(preset.name, preset.repo_id, settings.model_dir):
        single = folder / preset.single_file.filename if preset.single_file else None
        candidates.append((folder, single))
    snapshot = cached_snapshot(preset.repo_id)
    if snapshot is not None:
        single = None
        if preset.single_file:
            single_snapshot = cached_snapshot(preset.single_file.repo_id)
            single = single_snapshot / preset.single_file.filename if single_snapshot else None
        candidates.append((snapshot, single))
    for folder, single in candidates:
        if _pipeline_complete(folder, skip_weights=set()):
            return Weights(folder)
        if (
            single is not None
            and single.is_file()
            and _pipeline_complete(folder, skip_weights={"transformer"})
        ):
            return Weights(folder, transformer_file=single)
    return None


def expected_location(preset: Preset, settings: Settings) -> Path:
    return expected_folder(preset.name, preset.repo_id, settings)


def missing_weights_message(preset: Preset, settings: Settings) -> str:
    where = f"{settings.model_dir / preset.name} nor " if settings.model_dir is not None else ""
    return (
        f"the weights of preset {preset.name!r} ({preset.model_id}) are not in {where}the Hugging Face cache "
        f"({hf_cache_dir()}). On a machine with internet, run `vivant models pull {preset.name}` "
        f"(about {preset.download_gb:g} GB), or choose another preset or the parallax engine."
    )


def require_weights(preset: Preset, settings: Settings) -> Weights:
    weights = locate_weights(preset, settings)
    if weights is None:
        raise EngineError(missing_weights_message(preset, settings))
    return weights


# --- the `vivant models` commands -----------------------------------------------------------------


def models_list_text(settings: Settings) -> str:
    """The table `vivant models list` prints: each preset and the depth model, where their weights are
    (or are expected), whether they are there."""
    rows = [("name", "model", "licence", "size", "present", "weights")]
    for preset in PRESETS.values():
        weights = locate_weights(preset, settings)
        where = weights.folder if weights else expected_location(preset, settings)
        rows.append(
            (
                preset.name + (" (default)" if preset.name == DEFAULT_PRESET else ""),
                preset.model_id,
                preset.licence,
                f"{preset.download_gb:g} GB",
                "yes" if weights else "no",
                str(where),
            )
        )
    depth = DEPTH_MODEL.locate(settings.model_dir)
    rows.append(
        (
            DEPTH_MODEL.name + " (parallax, optional)",
            DEPTH_MODEL.repo_id,
            DEPTH_MODEL.licence,
            f"{DEPTH_MODEL.download_gb:g} GB",
            "yes" if depth else "no",
            str(depth or DEPTH_MODEL.expected_location(settings)),
        )
    )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def pull_model(name: str, settings: Settings) -> Path:
    """`vivant models pull NAME`: a preset's weights, or the parallax engine's depth model."""
    if name == DEPTH_MODEL.name:
        return DEPTH_MODEL.pull(settings)
    refuse_other_sizes(name)
    return pull_preset(name, settings)


def pull_preset(name: str, settings: Settings) -> Path:
    """Download the files the preset's pipeline needs (and nothing else); returns the pipeline folder.

    Into VIVANT_MODEL_DIR/<preset>/ when that is set, else into the Hugging Face cache.
    """
    preset = get_preset(name)
    local_dir = pull_folder(preset.name, settings)
    folder = download(preset.repo_id, allow_patterns=preset.allow_patterns, local_dir=local_dir)
    if preset.single_file:
        download_file(preset.single_file.repo_id, preset.single_file.filename, local_dir=local_dir)
    if locate_weights(preset, settings) is None:
        raise EngineError(
            f"downloaded {preset.model_id} into {folder}, but some of its files are still missing"
        )
    return folder
