"""Learned depth in the parallax engine, offline: a tiny random-weight Depth Anything model, built from an
in-code config and saved where `vivant models pull depth` puts the real one, loaded by the engine's own
loader (local files only).

Random weights prove the code path (finding, loading, predicting, handing the map to the scene), never the
quality of the depth.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from app.config import Settings
from app.images import load_photo_rgb
from tests.fixture_paths import FIXTURES
from worker.engines import learned_depth
from worker.engines.base import EngineError, MotionSpec, output_size, resize_to
from worker.engines.depth import estimate_scene, working_copy
from worker.engines.learned_depth import DEPTH_MODEL, input_size, predictor_for
from worker.engines.parallax import ParallaxEngine
from worker.engines.presets import pull_model
from worker.render import render_clip

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

REPO = Path(__file__).resolve().parents[1]
SPEC = MotionSpec(seconds=1.0, fps=12, long_side=320, seed=1)


def _tiny_depth_model() -> Any:
    """Depth Anything's layout (DINOv2 backbone read out at four layers, DPT neck and head), tiny."""
    torch.manual_seed(0)
    backbone = transformers.Dinov2Config(
        hidden_size=16,
        num_hidden_layers=4,
        num_attention_heads=2,
        mlp_ratio=2,
        patch_size=14,
        image_size=28,
        out_indices=[1, 2, 3, 4],
        reshape_hidden_states=False,
        initializer_range=0.2,
    )
    config = transformers.DepthAnythingConfig(
        backbone_config=backbone,
        patch_size=14,
        reassemble_hidden_size=16,
        neck_hidden_sizes=[8, 8, 16, 16],
        fusion_hidden_size=8,
        head_hidden_size=4,
        initializer_range=0.2,
    )
    model = transformers.DepthAnythingForDepthEstimation(config).eval()
    # The head ends in a ReLU: random weights leave half the frame at exactly 0. A positive bias before it
    # keeps the map varied everywhere, so its order can be checked against the model's.
    with torch.no_grad():
        model.head.conv3.bias.fill_(2.0)
    return model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding the tiny model where `vivant models pull depth` puts the real one."""
    models = tmp_path_factory.mktemp("models")
    _tiny_depth_model().save_pretrained(DEPTH_MODEL.expected_location(Settings(model_dir=models)))
    return models


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No network, an empty Hugging Face cache, and no VIVANT_DEPTH from the environment.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("VIVANT_DEPTH", raising=False)
    # Each test may see the fallback's one log line anew.
    monkeypatch.setattr(learned_depth, "_said", set())


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return load_photo_rgb(FIXTURES / "photos" / "einstein.jpg", max_pixels=50_000_000)


def _base(photo: np.ndarray) -> np.ndarray:
    return resize_to(photo, output_size(photo.shape[1], photo.shape[0], SPEC.long_side))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_models_list_shows_the_depth_model_its_licence_and_presence(model_dir: Path, tmp_path: Path) -> None:
    def depth_row(models: Path) -> str:
        listed = subprocess.run(
            [sys.executable, "-m", "app.cli", "models", "list"],
            env={**os.environ, "VIVANT_MODEL_DIR": str(models), "PYTHONPATH": str(REPO)},
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return next(line for line in listed.stdout.splitlines() if line.startswith("depth"))

    present = depth_row(model_dir)
    assert DEPTH_MODEL.repo_id in present and "apache-2.0" in present
    assert " yes " in present and present.endswith(str(model_dir / "depth"))
    absent = depth_row(tmp_path / "empty")
    assert " no " in absent and absent.endswith(str(tmp_path / "empty" / "depth"))


def test_only_the_apache_licensed_small_size_is_offered() -> None:
    assert DEPTH_MODEL.repo_id == "depth-anything/Depth-Anything-V2-Small-hf"
    for name in ("depth-large", "depth-base", "Depth-Anything-V2-Large"):
        with pytest.raises(EngineError, match="CC-BY-NC-4.0"):
            pull_model(name, Settings())


def test_pull_offline_says_why_in_one_line(tmp_path: Path) -> None:
    pulled = subprocess.run(
        [sys.executable, "-m", "app.cli", "models", "pull", "depth"],
        env={**os.environ, "VIVANT_MODEL_DIR": str(tmp_path / "models"), "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert pulled.returncode != 0 and "Traceback" not in pulled.stderr
    assert f"could not fetch {DEPTH_MODEL.repo_id}" in pulled.stderr
    assert DEPTH_MODEL.locate(tmp_path / "models") is None


def test_weights_in_the_hugging_face_cache_are_used(
    model_dir: Path, tmp_path: Path, photo: np.ndarray
) -> None:
    # The cache's layout: models--ORG--NAME/refs/main names the snapshot folder that holds the files.
    repo = tmp_path / "hf-cache" / ("models--" + DEPTH_MODEL.repo_id.replace("/", "--"))
    shutil.copytree(model_dir / "depth", repo / "snapshots" / "abc123")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    settings = Settings(model_dir=None)

    assert DEPTH_MODEL.locate(settings.model_dir) == repo / "snapshots" / "abc123"
    assert ParallaxEngine(settings).scene(_base(photo))[1] == "learned"


def test_predictor_gives_a_0_to_1_map_at_the_photo_size_in_the_model_order(
    model_dir: Path, photo: np.ndarray
) -> None:
    predictor = predictor_for(model_dir / "depth")
    depth = predictor.predict(photo)
    raw = predictor.raw(photo)

    assert depth.shape == photo.shape[:2] and depth.dtype == np.float32
    assert depth.min() >= 0.0 and depth.max() <= 1.0 and depth.max() - depth.min() > 0.9
    # The model ran at the small input: long side INPUT_SIDE, multiples of the patch.
    assert raw.shape[::-1] == input_size(photo.shape[1], photo.shape[0])
    assert max(raw.shape) == 364 and raw.shape[0] % 14 == 0 and raw.shape[1] % 14 == 0
    # Larger raw output (nearer, for Depth Anything) is larger depth: same order, up to the percentile clip.
    raw_up = cv2.resize(raw, (photo.shape[1], photo.shape[0]), interpolation=cv2.INTER_LINEAR)
    assert _corr(depth, raw_up) > 0.97
    low, high = np.percentile(raw_up, (10, 90))
    assert depth[raw_up >= high].min() > depth[raw_up <= low].max()


def test_model_is_loaded_once_per_process(model_dir: Path) -> None:
    assert predictor_for(model_dir / "depth") is predictor_for(model_dir / "depth")
    predictor = predictor_for(model_dir / "depth")
    assert predictor.load() is predictor.load()


def test_auto_uses_the_learned_depth_and_the_scene_follows_it(model_dir: Path, photo: np.ndarray) -> None:
    base = _base(photo)
    model_map = working_copy(predictor_for(model_dir / "depth").predict(base))

    scene, used = ParallaxEngine(Settings(model_dir=model_dir)).scene(base)
    estimate = estimate_scene(base)

    assert used == "learned"
    assert scene.depth.shape == model_map.shape
    assert _corr(scene.depth, model_map) > 0.9
    assert _corr(scene.depth, model_map) > _corr(estimate.depth, model_map) + 0.2
    # Faces are found as without the model.
    assert scene.faces == estimate.faces


def test_estimate_setting_never_uses_the_model(
    model_dir: Path, photo: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIVANT_DEPTH", "estimate")
    settings = Settings(model_dir=model_dir)
    assert settings.depth == "estimate"
    base = _base(photo)

    scene, used = ParallaxEngine(settings).scene(base)

    assert used == "estimate"
    np.testing.assert_array_equal(scene.depth, estimate_scene(base).depth)
    facts: dict[str, object] = {}
    list(ParallaxEngine(settings).render(photo, SPEC, facts=facts))
    assert facts["depth"] == "estimate"


def test_without_weights_auto_falls_back_and_says_why_once(
    tmp_path: Path, photo: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    engine = ParallaxEngine(Settings(model_dir=tmp_path / "no-models"))
    facts: dict[str, object] = {}
    with caplog.at_level(logging.INFO, logger=learned_depth.__name__):
        frames = list(engine.render(photo, SPEC, facts=facts))
        list(engine.render(photo, SPEC))

    assert facts["depth"] == "estimate" and len(frames) == SPEC.frame_count
    said = [r.getMessage() for r in caplog.records if r.name == learned_depth.__name__]
    assert len(said) == 1
    assert "vivant models pull depth" in said[0] and str(tmp_path / "no-models" / "depth") in said[0]


def test_damaged_weights_fall_back_and_say_so(
    model_dir: Path, tmp_path: Path, photo: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    damaged = tmp_path / "models" / "depth"
    shutil.copytree(model_dir / "depth", damaged)
    (damaged / "model.safetensors").write_bytes(b"not a checkpoint")

    with caplog.at_level(logging.INFO, logger=learned_depth.__name__):
        _, used = ParallaxEngine(Settings(model_dir=tmp_path / "models")).scene(_base(photo))

    assert used == "estimate"
    said = [r.getMessage() for r in caplog.records if r.name == learned_depth.__name__]
    assert any("could not be loaded" in line and str(damaged) in line for line in said)


def test_a_clip_renders_end_to_end_with_learned_depth(
    model_dir: Path, photo: np.ndarray, tmp_path: Path
) -> None:
    video, poster = tmp_path / "clip.mp4", tmp_path / "clip.jpg"

    result = render_clip(
        ParallaxEngine(Settings(model_dir=model_dir)), photo, SPEC, video_path=video, poster_path=poster,
        progress=lambda _: None,
    )  # fmt: skip

    assert result.metrics["depth"] == "learned"
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    width, height = output_size(photo.shape[1], photo.shape[0], SPEC.long_side)
    assert len(frames) == SPEC.frame_count and frames[0].shape == (height, width, 3)
    first = resize_to(photo, (width, height)).astype(np.float64)
    assert 10 * np.log10(255.0**2 / np.mean((frames[0] - first) ** 2)) > 30
    # The camera moved: the last frame is not the first.
    assert np.abs(frames[-1].astype(np.float64) - frames[0]).mean() > 0.5


@pytest.mark.parametrize("how", ["environment", "option"])
def test_vivant_animate_finds_the_model_from_its_option_or_the_environment_and_obeys_depth(
    model_dir: Path, tmp_path: Path, how: str
) -> None:
    """`vivant animate` reads VIVANT_MODEL_DIR and VIVANT_DEPTH as options, without the settings object."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("VIVANT_")}
    env["PYTHONPATH"] = str(REPO)
    where: list[str] = []
    if how == "environment":
        env["VIVANT_MODEL_DIR"] = str(model_dir)
    else:
        where = ["--model-dir", str(model_dir)]

    def animate(*extra: str) -> dict[str, Any]:
        out = tmp_path / "clip.mp4"
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "animate", str(FIXTURES / "photos" / "einstein.jpg"), "-o",
             str(out), "--seconds", "0.5", "--fps", "12", "--long-side", "160", "--metrics", *where, *extra],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        *report, path = done.stdout.strip().splitlines()
        assert path == str(out)
        return json.loads("\n".join(report))

    assert animate()["depth"] == "learned"
    assert animate("--depth", "estimate")["depth"] == "estimate"
    env["VIVANT_DEPTH"] = "estimate"
    assert animate()["depth"] == "estimate"


# A fresh interpreter where torch cannot be imported, with the weights present.
NO_TORCH = """
import json, logging, sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'transformers'):
            raise ImportError(name + ' is not installed')
sys.meta_path.insert(0, NoTorch())
logging.basicConfig(level=logging.INFO, format='%(message)s')
import numpy as np
from app.config import Settings
from worker.engines.base import MotionSpec
from worker.engines.parallax import ParallaxEngine
facts = {}
frames = list(ParallaxEngine(Settings(model_dir=sys.argv[1])).render(
    np.full((64, 96, 3), 128, np.uint8), MotionSpec(seconds=0.5, fps=12, long_side=96), facts=facts))
print(json.dumps({"depth": facts["depth"], "frames": len(frames)}))
"""


def test_without_torch_auto_falls_back_with_the_reason(model_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(model_dir)],
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '{"depth": "estimate", "frames": 6}' in done.stdout
    assert "needs torch and transformers" in done.stderr


# A fresh interpreter where OMP_NUM_THREADS is unset: torch's threads are the worker process's share.
THREADS = """
import os, sys
import numpy as np
import torch
from app.config import Settings
from worker.engines.learned_depth import DepthOptions, learned_depth
settings = Settings(model_dir=sys.argv[1], worker_concurrency=int(sys.argv[2]))
before = torch.get_num_threads()
assert learned_depth(np.full((64, 96, 3), 128, np.uint8), DepthOptions.from_settings(settings)) is not None
print(before, torch.get_num_threads(), os.cpu_count())
"""


@pytest.mark.parametrize("concurrency", [1, 64])
def test_each_worker_process_runs_torch_on_its_share_of_the_cores(model_dir: Path, concurrency: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"} | {"PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", THREADS, str(model_dir), str(concurrency)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    _, after, cores = (int(word) for word in done.stdout.split())
    assert after == max(1, cores // concurrency)


def test_bench_builds_the_released_small_architecture() -> None:
    """bench/depth.py's in-code config is the released model's: 24.8 M parameters (meta device, no memory)."""
    from bench.depth import small_config

    with torch.device("meta"):
        model = transformers.DepthAnythingForDepthEstimation(small_config())
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(24.8, rel=0.01)
