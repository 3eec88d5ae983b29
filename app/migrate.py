"""Applying Alembic migrations from code (`vivant serve` does it at start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from app.templating import PACKAGE_DIR


def alembic_config(url: str) -> Config:
    """The migrations inside the package: no alembic.ini is needed, so an installed wheel migrates too."""
    config = Config()
    config.set_main_option("script_location", str(PACKAGE_DIR / "migrations"))
    # ConfigParser treats % as interpolation; URLs may hold percent-escapes.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, media_dir: Path | None = None) -> None:
    """Migrate to the newest schema. `media_dir` lets a migration read stored photos (dates taken)."""
    config = alembic_config(url)
    config.attributes["media_dir"] = media_dir
    command.upgrade(config, "head")
