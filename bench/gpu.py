"""Speed of each diffusers preset: one clip at the model's native size on one CUDA GPU.

    python -m bench.gpu [--presets svd-xt,ltx,wan,cogvideox] [--offload none|model|group] [--compile]
    python -m bench.gpu --tiny      # CPU smoke run of the same path with the tests' tiny pipelines

Speed does not depend on the weights, so each preset's full-size architecture is built with random weights:
from its config.json files where the weights are present (VIVANT_MODEL_DIR or the Hugging Face cache),
else from the published configs written below. The text encoder is left out: it runs once per clip, and
random prompt embeddings of the right shape stand in for its output. Prints seconds per clip, seconds per
output frame and peak GPU memory as a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.config import Settings
from worker.engines.base import MotionSpec
from worker.engines.presets import PRESETS, Plan, Preset, locate_weights

# Prompt embedding shapes of each preset's text encoder: (tokens, width), with an attention mask for LTX.
_TEXT = {"ltx": (128, 4096), "wan": (512, 4096), "cogvideox": (226, 4096)}


@dataclass
class Row:
    preset: str
    size: str
    frames: int
    steps: int
    offload: str
    seconds: float
    per_frame: float
    peak_gib: float


def _published_configs() -> dict[str, dict[str, tuple[str, dict[str, Any]]]]:
    """component -> (diffusers class, config) of each preset's released architecture."""
    return {
        "svd-xt": {
            # The UNet's defaults are SVD's own configuration.
            "unet": ("UNetSpatioTemporalConditionModel", {}),
            "vae": (
                "AutoencoderKLTemporalDecoder",
                {
                    "block_out_channels": [128, 256, 512, 512],
                    "down_block_types": ["DownEncoderBlock2D"] * 4,
                    "layers_per_block": 2,
                    "latent_channels": 4,
                    "sample_size": 768,
                    "scaling_factor": 0.18215,
                },
            ),
        },
        "ltx": {
            "transformer": ("LTXVideoTransformer3DModel", {}),  # defaults: the 2B model
            "vae": (
                "AutoencoderKLLTXVideo",
                {
                    "block_out_channels": [128, 256, 512, 1024, 2048],
                    "decoder_block_out_channels": [256, 512, 1024],
                    "decoder_inject_noise": [False, False, False, False],
                    "decoder_layers_per_block": [5, 5, 5, 5],
                    "decoder_spatio_temporal_scaling": [True, True, True],
                    "down_block_types": ["LTXVideo095DownBlock3D"] * 4,
                    "downsample_type": ["spatial", "temporal", "spatiotemporal", "spatiotemporal"],
                    "layers_per_block": [4, 6, 6, 2, 2],
                    "patch_size": 4,
                    "spatio_temporal_scaling": [True, True, True, True],
                    "timestep_conditioning": True,
                    "upsample_factor": [2, 2, 2],
                    "upsample_residual": [True, True, True],
                },
            ),
        },
        "wan": {
            "transformer": (
                "WanTransformer3DModel",
                {
                    "patch_size": (1, 2, 2),
                    "num_attention_heads": 24,
                    "attention_head_dim": 128,
                    "in_channels": 48,
                    "out_channels": 48,
                    "text_dim": 4096,
                    "freq_dim": 256,
                    "ffn_dim": 14336,
                    "num_layers": 30,
                    "cross_attn_norm": True,
                    "qk_norm": "rms_norm_across_heads",
                    "eps": 1e-6,
                    "rope_max_seq_len": 1024,
                },
            ),
            "vae": (
                "AutoencoderKLWan",
                {
                    "base_dim": 160,
                    "decoder_base_dim": 256,
                    "z_dim": 48,
                    "dim_mult": [1, 2, 4, 4],
                    "num_res_blocks": 2,
                    "temperal_downsample": [False, True, True],
                    "is_residual": True,
                    "in_channels": 12,
                    "out_channels": 12,
                    "patch_size": 2,
                    "scale_factor_spatial": 16,
                    "scale_factor_temporal": 4,
                    "latents_mean": [0.0] * 48,
                    "latents_std": [1.0] * 48,
                },
            ),
        },
        "cogvideox": {
            "transformer": (
                "CogVideoXTransformer3DModel",
                {
                    "num_attention_heads": 48,
                    "attention_head_dim": 64,
                    "in_channels": 32,
                    "out_channels": 16,
                    "time_embed_dim": 512,
                    "text_embed_dim": 4096,
                    "num_layers": 42,
                    "sample_width": 90,
                    "sample_height": 60,
                    "sample_frames": 49,
                    "patch_size": 2,
                    "temporal_compression_ratio": 4,
                    "max_text_seq_length": 226,
                    "use_rotary_positional_embeddings": True,
                    "use_learned_positional_embeddings": True,
                },
            ),
            "vae": ("AutoencoderKLCogVideoX", {"scaling_factor": 0.7}),
        },
    }


def _config(preset: Preset, component: str, fallback: dict[str, Any]) -> dict[str, Any]:
    """The component's config.json where the weights are present, else the published one above."""
    weights = locate_weights(preset, Settings())
    if weights is None or not (weights.folder / component / "config.json").is_file():
        return fallback
    return json.loads((weights.folder / component / "config.json").read_text())


def _cast(model: Any, dtype: Any) -> Any:
    """To `dtype`, except the modules the model keeps in float32 (as loading real weights would)."""
    import torch

    keep = set(getattr(model, "_keep_in_fp32_modules", None) or ())
    model.to(dtype)
    for name, module in model.named_modules():
        if keep & set(name.split(".")):
            module.to(torch.float32)
    return model


def random_pipeline(preset: Preset, device: Any, dtype: Any) -> Any:
    import diffusers
    import torch

    models = {}
    for component, (class_name, published) in _published_configs()[preset.name].items():
        model_class = getattr(diffusers, class_name)
        # Built straight on the GPU: random-initialising billions of parameters on the CPU takes minutes.
        with torch.device(device):
            models[component] = _cast(model_class.from_config(_config(preset, component, published)), dtype)
    if preset.name == "svd-xt":
        from transformers import CLIPImageProcessorPil, CLIPVisionConfig, CLIPVisionModelWithProjection

        with torch.device(device):  # OpenCLIP ViT-H/14, as SVD uses
            encoder = CLIPVisionModelWithProjection(
                CLIPVisionConfig(
                    hidden_size=1280,
                    intermediate_size=5120,
                    num_hidden_layers=32,
                    num_attention_heads=16,
                    patch_size=14,
                    image_size=224,
                    projection_dim=1024,
                    hidden_act="gelu",
                )
            ).to(dtype)
        return diffusers.StableVideoDiffusionPipeline(
            image_encoder=encoder,
            feature_extractor=CLIPImageProcessorPil(),
            scheduler=diffusers.EulerDiscreteScheduler(
                prediction_type="v_prediction",
                timestep_type="continuous",
                use_karras_sigmas=True,
                sigma_max=700.0,
            ),
            **models,
        )
    extra: dict[str, Any] = {"text_encoder": None, "tokenizer": None}
    if preset.name == "ltx":
        scheduler = diffusers.FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, shift_terminal=0.1)
        return diffusers.LTXConditionPipeline(scheduler=scheduler, **models, **extra)
    if preset.name == "wan":
        scheduler = diffusers.FlowMatchEulerDiscreteScheduler(shift=5.0)
        return diffusers.WanImageToVideoPipeline(
            scheduler=scheduler,
            image_encoder=None,
            image_processor=None,
            expand_timesteps=True,
            **models,
            **extra,
        )
    scheduler = diffusers.CogVideoXDPMScheduler(
        prediction_type="v_prediction", rescale_betas_zero_snr=True, timestep_spacing="trailing"
    )
    return diffusers.CogVideoXImageToVideoPipeline(scheduler=scheduler, **models, **extra)


def _text_inputs(preset: Preset, plan: Plan, device: Any, dtype: Any) -> dict[str, Any]:
    """Random prompt embeddings in place of the text encoder's output (and of the prompts)."""
    import torch

    kwargs = {k: v for k, v in plan.kwargs.items() if k not in ("prompt", "negative_prompt")}
    if preset.name not in _TEXT:
        return kwargs
    tokens, width = _TEXT[preset.name]
    generator = torch.Generator("cpu").manual_seed(0)
    for name in ("prompt_embeds", "negative_prompt_embeds"):
        kwargs[name] = torch.randn(1, tokens, width, generator=generator).to(device, dtype)
    if preset.name == "ltx":
        kwargs["prompt_attention_mask"] = torch.ones(1, tokens, dtype=torch.long, device=device)
        kwargs["negative_prompt_attention_mask"] = torch.ones(1, tokens, dtype=torch.long, device=device)
    return kwargs


def _run(pipe: Any, preset: Preset, plan: Plan, kwargs: dict[str, Any], device: Any, spec: MotionSpec) -> Row:
    import torch
    from PIL import Image

    from worker.engines.diffusers_i2v import image_inputs

    photo = Image.fromarray(np.full((plan.height, plan.width, 3), 128, np.uint8))
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    with torch.inference_mode():
        pipe(
            **image_inputs(plan, photo),
            generator=torch.Generator("cpu").manual_seed(0),
            output_type="np",
            **kwargs,
        )
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return Row(
        preset.name,
        f"{plan.width}x{plan.height}",
        plan.num_frames,
        plan.kwargs["num_inference_steps"],
        "",
        seconds,
        seconds / spec.frame_count,
        peak,
    )


def _print(rows: list[Row], spec: MotionSpec, device: str, note: str) -> None:
    print(
        f"\none clip of {spec.seconds:g} s at {spec.fps} fps ({spec.frame_count} output frames) on {device}"
    )
    header = ("preset", "size", "frames", "steps", "offload", "s/clip", "s/out frame", "peak GiB")
    cells = [header]
    for r in rows:
        peak = "-" if r.peak_gib != r.peak_gib else f"{r.peak_gib:.1f}"  # NaN: not measured on the CPU
        cells.append(
            (
                r.preset,
                r.size,
                str(r.frames),
                str(r.steps),
                r.offload,
                f"{r.seconds:.1f}",
                f"{r.per_frame:.2f}",
                peak,
            )
        )
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print(note)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gpu",
        description="Seconds per clip and peak GPU memory of each diffusers preset.",
    )
    parser.add_argument("--presets", default=",".join(PRESETS), help="comma-separated (default: all)")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--offload", choices=["none", "model", "group"], default="none")
    parser.add_argument("--dtype", choices=["bf16", "fp16"], default="bf16")
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the denoiser (adds a warm-up run)"
    )
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run with the tests' tiny pipelines")
    args = parser.parse_args(argv)

    import torch

    from worker.engines.diffusers_i2v import GpuOptions, pick_dtype, place_pipeline

    names = [name.strip() for name in args.presets.split(",") if name.strip()]
    unknown = [name for name in names if name not in PRESETS]
    if unknown:
        parser.error(f"unknown preset(s) {', '.join(unknown)}; choose from {', '.join(PRESETS)}")
    if not args.tiny and not torch.cuda.is_available():
        print(
            "no CUDA GPU on this machine: nothing to measure. Run this on a GPU machine, or pass --tiny "
            "for a CPU smoke run of the same code path with tiny random pipelines."
        )
        return 0
    spec = MotionSpec(seconds=args.seconds, fps=args.fps)
    options = GpuOptions(offload=args.offload, dtype=args.dtype, allow_cpu=args.tiny)
    device = torch.device("cpu" if args.tiny else "cuda")
    dtype = pick_dtype(device, options)
    build: Callable[[Preset], Any]
    presets: dict[str, Preset] = dict(PRESETS)
    if args.tiny:
        from tests.tiny_pipelines import build_tiny, tiny_presets

        presets = tiny_presets()
        names = [name for name in names if name in presets]
        build = lambda preset: build_tiny(preset.name)  # noqa: E731
    else:
        build = lambda preset: random_pipeline(preset, device, dtype)  # noqa: E731

    rows = []
    for name in names:
        preset = presets[name]
        width, height = preset.sizes[0]
        plan = preset.plan(width, height, spec)
        pipe = build(preset)
        pipe.set_progress_bar_config(disable=True)
        offload = place_pipeline(pipe, preset, device, options)
        kwargs = dict(plan.kwargs) if args.tiny else _text_inputs(preset, plan, device, dtype)
        if args.compile:
            denoiser = getattr(pipe, "transformer", None) or pipe.unet
            denoiser.compile(fullgraph=False)
            _run(pipe, preset, plan, kwargs, device, spec)  # compiles; not counted
        row = _run(pipe, preset, plan, kwargs, device, spec)
        row.offload = offload + (" +compile" if args.compile else "")
        rows.append(row)
        print(f"{name}: {row.seconds:.1f} s", file=sys.stderr)
        del pipe
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if args.tiny:
        _print(rows, spec, "CPU (tiny pipelines)", "tiny random pipelines: proves the path, not the speed")
    else:
        note = "text encoders excluded (random prompt embeddings); frames and steps are the model's own"
        _print(rows, spec, torch.cuda.get_device_name(), note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
