"""Jinja2 pages; autoescaping is on for every template."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

# Pages and their scripts ship inside the package, so an installed wheel finds them where a checkout does.
PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"


def make_templates() -> Jinja2Templates:
    return Jinja2Templates(directory=TEMPLATES_DIR)


def local_path(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site, else `default`: a login link cannot send people elsewhere."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return default
    if any(ord(ch) < 32 for ch in target):
        return default
    return target
