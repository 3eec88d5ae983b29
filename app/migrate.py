"""Applying Alembic migrations from code (`vivant serve` does it at start)."""

from __future__ import annotations

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


def upgrade(url: str) -> None:
    command.upgrade(alembic_config(url), "head")
