"""Applying Alembic migrations from code (`vivant serve` does it at start)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from app.templating import ROOT


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    # ConfigParser treats % as interpolation; URLs may hold percent-escapes.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "head")
