"""Seconds per photo of the parallax engine's depth: the learned model beside the weight-free estimate.

    python -m bench.depth [--threads 2] [--repeat 3] [PHOTO ...]

The learned model is Depth Anything V2 Small's released architecture (ViT-S/14 DINOv2 backbone, DPT head;
the config below is that of depth-anything/Depth-Anything-V2-Small-hf) with random weights: speed depends on
the architecture and the input size, not on the weights, and the weights cannot be downloaded here. It is
saved to a temporary folder and loaded by the engine's own loader. Each photo is resized to the clip's size
(1280 on the long side) as the engine does; the model sees it at INPUT_SIDE. Times are the best of N runs
with torch and OpenCV held to `--threads` threads. Prints a table: the model's prediction (wall and CPU
seconds), the scene built on it, their sum (what a clip with learned depth spends on depth), and the
weight-free estimate alone.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2

from app.images import load_photo_rgb
from worker.bench import CHECKOUT_PHOTOS, photos_in
from worker.engines.base import output_size, resize_to
from worker.engines.depth import estimate_scene
from worker.engines.learned_depth import DepthPredictor, input_size

CLIP_SIDE = 1280


def small_config() -> Any:
    """Depth Anything V2 Small as released: DINOv2 ViT-S/14 (hidden 384, 12 layers, 6 heads) read out at
    layers 3, 6, 9 and 12 into a DPT neck of 48/96/192/384 channels, fusion 64, head 32."""
    from transformers import DepthAnythingConfig, Dinov2Config

    backbone = Dinov2Config(
        hidden_size=384,
        num_hidden_layers=12,
        num_attention_heads=6,
        mlp_ratio=4,
        patch_size=14,
        image_size=518,
        out_indices=[3, 6, 9, 12],
        reshape_hidden_states=False,
    )
    return DepthAnythingConfig(
        backbone_config=backbone,
        patch_size=14,
        reassemble_hidden_size=384,
        reassemble_factors=[4, 2, 1, 0.5],
        neck_hidden_sizes=[48, 96, 192, 384],
        fusion_hidden_size=64,
        head_hidden_size=32,
        head_in_index=-1,
        depth_estimation_type="relative",
    )


def _best(repeat: int, run: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds (all threads) of the fastest of `repeat` runs. On a shared machine the wall
    time also measures the neighbours; the CPU time compares fairly."""
    times = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("photos", nargs="*", type=Path, help="photos or folders (default: the test photos)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import torch
    from transformers import DepthAnythingForDepthEstimation

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        DepthAnythingForDepthEstimation(small_config()).save_pretrained(folder)
        predictor = DepthPredictor(Path(folder))
        load_s, _ = _best(1, predictor.load)
        parameters = sum(p.numel() for p in predictor.load().parameters()) / 1e6

        header = ("photo", "clip", "model input", "learned s", "cpu s", "+ scene s", "= total", "estimate s")
        rows = [header]
        for photo in photos_in(args.photos or [CHECKOUT_PHOTOS]):
            image = load_photo_rgb(photo, max_pixels=100_000_000)
            size = output_size(image.shape[1], image.shape[0], CLIP_SIDE)
            base = resize_to(image, size)
            predictor.predict(base)  # warm: the first call sets up kernels
            learned, learned_cpu = _best(args.repeat, lambda base=base: predictor.predict(base))
            hint = predictor.predict(base)
            scene, _ = _best(args.repeat, lambda base=base, hint=hint: estimate_scene(base, depth_hint=hint))
            estimate, _ = _best(args.repeat, lambda base=base: estimate_scene(base))
            net_w, net_h = input_size(*size)
            rows.append(
                (
                    photo.name,
                    f"{size[0]}x{size[1]}",
                    f"{net_w}x{net_h}",
                    f"{learned:.3f}",
                    f"{learned_cpu:.3f}",
                    f"{scene:.3f}",
                    f"{learned + scene:.3f}",
                    f"{estimate:.3f}",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print(
        f"Depth Anything V2 Small architecture, random weights ({parameters:.1f} M parameters), "
        f"{args.threads} threads, best of {args.repeat}; model load {load_s:.2f} s"
    )
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
