"""What a clip may ask for (engine, strength, camera move, ambient motion) and the queue each engine renders
on: shared by the settings, the API, the dispatcher and the engines, and importable without NumPy or
OpenCV, so the web app routes clips without loading an engine."""

from __future__ import annotations

from typing import Literal, get_args

Strength = Literal["whisper", "gentle", "lively"]
Camera = Literal["auto", "still", "push", "drift", "orbit"]
STRENGTHS: tuple[Strength, ...] = ("whisper", "gentle", "lively")
CAMERAS: tuple[Camera, ...] = ("auto", "still", "push", "drift", "orbit")
# Ambient motion in the scene itself (worker/engines/ambient.py): `auto` where the photo has it, `off` none.
Ambient = Literal["auto", "off"]
AMBIENTS: tuple[Ambient, ...] = get_args(Ambient)
AmbientKind = Literal["sky", "water", "foliage", "light"]
# Depth for the parallax engine: "auto" uses the learned model where its weights and torch are there
# (`vivant models pull depth`), else the weight-free estimate; "estimate" never loads a model.
DepthMode = Literal["auto", "estimate"]
DEPTH_MODES: tuple[DepthMode, ...] = get_args(DepthMode)

EngineName = Literal["parallax", "diffusers"]
ENGINE_NAMES: tuple[EngineName, ...] = get_args(EngineName)
# The Celery queue each engine's workers listen on: GPU models never load in a CPU worker.
ENGINE_QUEUES: dict[str, str] = {"parallax": "cpu", "diffusers": "gpu"}
