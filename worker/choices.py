"""The strengths and camera moves a clip may ask for: shared by the settings, the API and the engines,
and importable without NumPy or OpenCV, so reading the settings stays cheap."""

from __future__ import annotations

from typing import Literal

Strength = Literal["whisper", "gentle", "lively"]
Camera = Literal["auto", "still", "push", "drift", "orbit"]
STRENGTHS: tuple[Strength, ...] = ("whisper", "gentle", "lively")
CAMERAS: tuple[Camera, ...] = ("auto", "still", "push", "drift", "orbit")
