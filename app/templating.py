"""Jinja2 pages; autoescaping is on for every template."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"


def make_templates() -> Jinja2Templates:
    return Jinja2Templates(directory=TEMPLATES_DIR)


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site, else `default`: a login link cannot send people elsewhere."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return default
    if any(ord(ch) < 32 for ch in target):
        return default
    return target
