"""Optional learned depth for the parallax engine: Depth Anything V2 Small, on the CPU.

Only the Small size is offered: it is Apache-2.0, while the Base and Large sizes are CC-BY-NC-4.0. Its
weights are never fetched here (`vivant models pull depth` does that, on a machine with internet); they are
read from VIVANT_MODEL_DIR/depth or the Hugging Face cache. torch and transformers (the gpu extra) are
imported only once the weights are found, so a CPU worker without weights never loads torch, and the
`gpu` extra is all a CPU worker needs to use them. Without either, the engine keeps its weight-free
estimate (worker/engines/depth.py) and says once why.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from worker.choices import DepthMode
from worker.engines.base import EngineError
from worker.engines.weights import ModelFolder, hf_cache_dir

if TYPE_CHECKING:
    from app.config import Settings
from worker.stats import percentiles

log = logging.getLogger(__name__)

DEPTH_MODEL = ModelFolder(
    name="depth",
    title="Depth Anything V2 Small",
    repo_id="depth-anything/Depth-Anything-V2-Small-hf",
    licence="apache-2.0",
    download_gb=0.1,
    files=("config.json", "model.safetensors"),
)
_OTHER_SIZES = ("base", "large", "giant")

# Long side of the network's input. The model was trained at 518; at 364 it costs half as much and the
# parallax only needs the layout of the scene, not fine detail. A multiple of the ViT's 14 px patch.
INPUT_SIDE = 364
PATCH = 14
# The normalisation the model was trained with (ImageNet's), as in the repo's preprocessor_config.json.
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)
# Percentiles mapped to 0 and 1: a few extreme pixels (a lamp, a sky) must not squash the rest.
_LOW, _HIGH = 2.0, 98.0


@dataclass(frozen=True)
class DepthOptions:
    """What the learned depth reads of the settings. `vivant animate` makes it from its own options (the
    same VIVANT_ variables), so it starts without loading the settings machinery, a tenth of a second."""

    mode: DepthMode
    model_dir: Path | None
    processes: int  # worker processes that share the machine's cores

    @classmethod
    def from_settings(cls, settings: Settings) -> DepthOptions:
        return cls(mode=settings.depth, model_dir=settings.model_dir, processes=settings.worker_concurrency)


def refuse_other_sizes(name: str) -> None:
    """A helpful refusal for `vivant models pull depth-large` and the like."""
    lowered = name.lower()
    if "depth" in lowered and any(size in lowered for size in _OTHER_SIZES):
        raise EngineError(
            f"{name!r} is not offered: Depth Anything V2 Base and Large are licensed CC-BY-NC-4.0 (not for "
            f"commercial use); only the Apache-2.0 Small size is, as `vivant models pull {DEPTH_MODEL.name}`"
        )


def input_size(width: int, height: int) -> tuple[int, int]:
    """The network's input (width, height): INPUT_SIDE on the long side, both sides multiples of PATCH."""
    scale = INPUT_SIDE / max(width, height)
    return max(PATCH, round(width * scale / PATCH) * PATCH), max(PATCH, round(height * scale / PATCH) * PATCH)


def pixel_values(image: np.ndarray) -> np.ndarray:
    """An RGB uint8 photo as the model's 1x3xHxW float32 input (resized, scaled to 0..1, normalised)."""
    size = input_size(image.shape[1], image.shape[0])
    shrinking = size[0] * size[1] < image.shape[0] * image.shape[1]
    resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    normalised = (resized.astype(np.float32) / 255.0 - _MEAN) / _STD
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None])


def normalise(raw: np.ndarray) -> np.ndarray:
    """The model's relative inverse depth (larger is nearer) as float32 0..1 with 1 = near."""
    low, high = percentiles(raw, (_LOW, _HIGH))
    return np.clip((raw - low) / max(float(high - low), 1e-6), 0.0, 1.0).astype(np.float32)


class DepthPredictor:
    """The model of one folder, loaded on first use, from local files only, and kept."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._lock = threading.Lock()
        self._model: Any = None

    def load(self) -> Any:
        """Idempotent; raises ImportError without torch and transformers. A failed load is not kept, so
        the next clip tries again (weights still being copied in, say)."""
        with self._lock:
            if self._model is None:
                from transformers import AutoModelForDepthEstimation
                from transformers.utils import logging as transformers_logging

                # Its "Loading weights" bar would land in worker logs and across `vivant animate`'s own bar.
                transformers_logging.disable_progress_bar()
                model = AutoModelForDepthEstimation.from_pretrained(self.folder, local_files_only=True)
                self._model = model.float().eval()
                log.info("parallax depth: %s loaded from %s", DEPTH_MODEL.title, self.folder)
            return self._model

    def raw(self, image: np.ndarray) -> np.ndarray:
        """The model's own output for the photo, at the network's input size."""
        import torch

        model = self.load()
        with torch.inference_mode():
            output = model(pixel_values=torch.from_numpy(pixel_values(image))).predicted_depth
        return np.asarray(output[0].float().numpy())

    def predict(self, image: np.ndarray) -> np.ndarray:
        """Depth of an RGB uint8 photo: float32 HxW at the photo's size, 0 = far .. 1 = near."""
        depth = normalise(self.raw(image))
        return cv2.resize(depth, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)


_predictors: dict[Path, DepthPredictor] = {}
_predictors_lock = threading.Lock()
_said: set[str] = set()


def predictor_for(folder: Path) -> DepthPredictor:
    """One predictor (and so one loaded model) per folder per process."""
    with _predictors_lock:
        return _predictors.setdefault(folder, DepthPredictor(folder))


def _fall_back(reason: str) -> None:
    # Once per process and reason: a worker renders many clips, the reason stays the same.
    if reason not in _said:
        _said.add(reason)
        log.info("parallax depth: the weight-free estimate, because %s", reason)


def _share_the_cores(processes: int) -> None:
    """Each of the worker's VIVANT_WORKER_CONCURRENCY processes would otherwise run torch on every core:
    give each its share, unless OMP_NUM_THREADS already says how many."""
    if "OMP_NUM_THREADS" in os.environ:
        return
    import torch

    share = max(1, (os.cpu_count() or 1) // processes)
    if torch.get_num_threads() != share:
        torch.set_num_threads(share)


def learned_depth(image: np.ndarray, options: DepthOptions) -> np.ndarray | None:
    """The learned depth map of `image` where VIVANT_DEPTH and the machine allow it, else None."""
    if options.mode == "estimate":
        return None
    folder = DEPTH_MODEL.locate(options.model_dir)
    if folder is None:
        where = f"{options.model_dir / DEPTH_MODEL.name} nor " if options.model_dir is not None else ""
        _fall_back(
            f"the {DEPTH_MODEL.title} weights are not in {where}the Hugging Face cache ({hf_cache_dir()}); "
            f"`vivant models pull {DEPTH_MODEL.name}` fetches them"
        )
        return None
    predictor = predictor_for(folder)
    try:
        predictor.load()
        _share_the_cores(options.processes)
    except ImportError:
        _fall_back("the learned depth needs torch and transformers: pip install 'vivant[gpu]'")
        return None
    except Exception as exc:
        # Damaged or foreign files (transformers and safetensors raise many kinds): the clip is still made,
        # with the estimate, and the next clip tries the folder again.
        _fall_back(f"the depth model in {folder} could not be loaded ({type(exc).__name__}: {exc})")
        return None
    return predictor.predict(image)
