"""Jinja2 pages; autoescaping is on for every template."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from worker.film_plan import FilmTiming

# Pages and their scripts ship inside the package, so an installed wheel finds them where a checkout does.
PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=TEMPLATES_DIR)
    # The film played in the browser keeps the exported film's time: one hold, one still, one fade.
    timing = FilmTiming()
    templates.env.globals["film_timing"] = {
        "hold_ms": round(timing.hold_s * 1000),
        "still_ms": round(timing.still_s * 1000),
        "fade_ms": round(timing.fade_s * 1000),
    }
    return templates


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site, else `default`: a login link cannot send people elsewhere."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return default
    if any(ord(ch) < 32 for ch in target):
        return default
    return target
