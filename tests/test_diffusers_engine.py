"""The diffusers engine end to end on the CPU: tiny random-weight pipelines saved to a model dir, loaded by
the engine's own loader (local files only), rendered, post-processed, encoded to H.264 and decoded back.

Random weights prove the code path, not the look of a clip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.config import Settings
from tests.fixture_paths import FIXTURES
from tests.tiny_pipelines import save_tiny_preset, tiny_presets
from worker.engines.base import EngineError, MotionSpec, output_size, resize_to
from worker.engines.diffusers_i2v import DiffusersEngine, GpuOptions
from worker.engines.presets import PRESETS, models_list_text
from worker.render import render_clip
from worker.video import probe, read_frames

REPO = Path(__file__).resolve().parents[1]
EINSTEIN = FIXTURES / "photos" / "einstein.jpg"  # 375x500 portrait: exercises the letterbox


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No network, and an empty Hugging Face cache: only what a test writes can be found.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))


def _photo() -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(EINSTEIN) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _engine(model_dir: Path) -> DiffusersEngine:
    return DiffusersEngine(
        Settings(model_dir=model_dir), options=GpuOptions(allow_cpu=True), presets=tiny_presets()
    )


@pytest.mark.parametrize(
    ("preset", "loop"),
    # LTX with a loop also pins the last frame to the photo: the two-condition call.
    [("svd-xt", False), ("ltx", False), ("ltx", True), ("wan", True)],
)
def test_diffusers_preset_renders_a_faithful_clip(tmp_path: Path, preset: str, loop: bool) -> None:
    save_tiny_preset(preset, tmp_path / "models")
    photo = _photo()
    spec = MotionSpec(seconds=1.0, fps=12, preset=preset, long_side=320, loop=loop, seed=3)
    seen: list[float] = []
    video, poster = tmp_path / "clip.mp4", tmp_path / "poster.jpg"

    result = render_clip(
        _engine(tmp_path / "models"), photo, spec, video_path=video, poster_path=poster, progress=seen.append
    )

    width, height = output_size(photo.shape[1], photo.shape[0], spec.long_side)
    info = probe(video)
    assert (info.codec, info.width, info.height, info.frames) == ("h264", width, height, spec.frame_count)
    assert result.frames == spec.frame_count
    frames = read_frames(video)
    assert _psnr(frames[0], resize_to(photo, (width, height))) >= 32
    # The model's (random) output reached the clip: the middle is far from the photo.
    assert _psnr(frames[len(frames) // 2], frames[0]) < 25
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    # Denoising steps reported progress before the post-processing did.
    assert any(0 < p <= 0.9 for p in seen)


def test_diffusers_pipeline_is_loaded_once_per_process(tmp_path: Path) -> None:
    save_tiny_preset("ltx", tmp_path / "models")
    engine = _engine(tmp_path / "models")
    spec = MotionSpec(seconds=0.5, fps=12, preset="ltx", long_side=128)
    list(engine.render(_photo(), spec))
    first = engine._loaded
    list(engine.render(_photo(), spec))
    assert first is not None and engine._loaded is first


def test_diffusers_missing_weights_are_refused_with_the_pull_command(tmp_path: Path) -> None:
    spec = MotionSpec(seconds=1.0, fps=12, preset="wan")
    with pytest.raises(EngineError) as refused:
        list(_engine(tmp_path / "models").render(_photo(), spec))
    message = str(refused.value)
    assert "'wan'" in message
    assert PRESETS["wan"].repo_id in message
    assert "vivant models pull wan" in message
    assert str(tmp_path / "models" / "wan") in message


def test_diffusers_incomplete_weights_count_as_missing(tmp_path: Path) -> None:
    folder = save_tiny_preset("svd-xt", tmp_path / "models")
    for weights in (folder / "unet").glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(EngineError, match="vivant models pull svd-xt"):
        list(_engine(tmp_path / "models").render(_photo(), MotionSpec(seconds=1.0, fps=12, preset="svd-xt")))


def test_diffusers_weights_are_found_in_the_hugging_face_cache(tmp_path: Path) -> None:
    # The cache's layout: models--ORG--NAME/refs/main names the snapshot folder that holds the files.
    repo = tmp_path / "hf-cache" / ("models--" + PRESETS["ltx"].repo_id.replace("/", "--"))
    save_tiny_preset("ltx", repo / "snapshots")
    (repo / "snapshots" / "ltx").rename(repo / "snapshots" / "abc123")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")

    frames = list(
        _engine(tmp_path / "no-model-dir").render(_photo(), MotionSpec(seconds=0.5, fps=12, preset="ltx"))
    )

    assert len(frames) == 6
    listing = models_list_text(Settings(model_dir=tmp_path / "no-model-dir"))
    ltx_row = next(line for line in listing.splitlines() if line.startswith("ltx"))
    assert " yes " in ltx_row and str(repo / "snapshots" / "abc123") in ltx_row


def test_diffusers_models_list_shows_presence_and_place(tmp_path: Path) -> None:
    save_tiny_preset("svd-xt", tmp_path / "models")
    listing = models_list_text(Settings(model_dir=tmp_path / "models")).splitlines()
    rows = {line.split()[0]: line for line in listing[1:]}
    assert set(rows) == set(PRESETS) | {"depth"}
    assert " yes " in rows["svd-xt"] and str(tmp_path / "models" / "svd-xt") in rows["svd-xt"]
    assert " no " in rows["wan"] and str(tmp_path / "models" / "wan") in rows["wan"]
    assert "apache-2.0" in rows["wan"]


@pytest.mark.skipif(
    __import__("torch").cuda.is_available(), reason="checks the refusal on a worker without a GPU"
)
def test_diffusers_refuses_without_a_gpu_unless_allowed(tmp_path: Path) -> None:
    save_tiny_preset("ltx", tmp_path / "models")
    engine = DiffusersEngine(Settings(model_dir=tmp_path / "models"), presets=tiny_presets())
    with pytest.raises(EngineError, match="needs an NVIDIA GPU"):
        list(engine.render(_photo(), MotionSpec(seconds=0.5, fps=12, preset="ltx")))


def test_diffusers_web_app_and_parallax_cli_never_import_torch(tmp_path: Path) -> None:
    probe_imports = (
        "import sys, app.main, worker.engines.presets as p; from app.config import Settings; "
        "from worker.engines.base import MotionSpec; p.models_list_text(Settings()); "
        "p.get_preset('wan').plan(640, 480, MotionSpec()); "
        "assert 'torch' not in sys.modules, 'torch was imported'; "
        "assert 'diffusers' not in sys.modules, 'diffusers was imported'"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", probe_imports], check=True, cwd=tmp_path, env=env, timeout=60)

    # `vivant animate --engine parallax` in a fresh interpreter, with an import hook that refuses torch.
    out = tmp_path / "clip.mp4"
    refuse_torch = (
        "import sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'diffusers'):\n"
        "            raise ImportError(f'{name} imported by the CPU path')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from app.cli import main\n"
        "main()\n"
    )
    args = ["animate", str(FIXTURES / "photos" / "hopper.jpg"), "-o", str(out), "--engine", "parallax"]
    args += ["--seconds", "0.5", "--fps", "12"]
    done = subprocess.run(
        [sys.executable, "-c", refuse_torch, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(out)
    assert probe(out).frames == 6


@pytest.mark.parametrize(
    ("preset", "denoiser", "billions"),
    [
        ("svd-xt", "unet", 1.52),
        ("ltx", "transformer", 1.92),
        ("wan", "transformer", 5.0),
        ("cogvideox", "transformer", 5.57),
    ],
)
def test_diffusers_bench_builds_each_full_size_architecture(
    preset: str, denoiser: str, billions: float
) -> None:
    """bench/gpu.py's in-code configs are the released models' (built on the meta device: no memory)."""
    import torch

    from bench.gpu import random_pipeline

    pipe = random_pipeline(PRESETS[preset], torch.device("meta"), torch.bfloat16)
    assert type(pipe).__name__ == PRESETS[preset].pipeline
    parameters = sum(p.numel() for p in getattr(pipe, denoiser).parameters()) / 1e9
    assert parameters == pytest.approx(billions, rel=0.02)
