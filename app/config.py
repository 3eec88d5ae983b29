"""The one Settings object. Every knob is a VIVANT_* environment variable."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.defaults import DEFAULT_DEPTH, DEFAULT_MAX_PIXELS
from worker.choices import DepthMode, EngineName, Strength

HARD_LIMIT_GRACE_S = 30


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIVANT_", env_file=None, extra="ignore")

    data_dir: Path = Path("vivant-data")
    database_url: str = ""  # empty: SQLite file in the data dir
    broker_url: str = ""  # empty: embedded broker (kombu's SQLAlchemy transport on a SQLite file)
    secret_key: str = ""  # empty: generated once into the data dir
    model_dir: Path | None = None
    public_url: str = ""  # absolute base for links in share previews; empty: taken from the request

    max_upload_mb: int = Field(default=100, ge=1)
    # Free space kept on the media folder's disk: uploads are refused and renders fail below it.
    min_free_mb: int = Field(default=500, ge=0)
    max_pixels: int = Field(default=DEFAULT_MAX_PIXELS, ge=1)
    decode_timeout_s: float = Field(default=30.0, gt=0)

    auto_animate: bool = True
    default_engine: EngineName = "parallax"
    default_strength: Strength = "gentle"
    default_seconds: float = Field(default=4.0, gt=0, le=30)
    default_fps: int = Field(default=24, ge=6, le=60)
    clip_long_side: int = Field(default=1280, ge=64, le=4096)
    depth: DepthMode = DEFAULT_DEPTH

    # GPU engine: offload "auto" picks by the card's memory; allow_cpu only for tests of the code path.
    gpu_offload: Literal["auto", "none", "model", "group"] = "auto"
    gpu_dtype: Literal["bf16", "fp16"] = "bf16"
    vae_tiling: bool | None = None
    gpu_allow_cpu: bool = False

    worker_concurrency: int = Field(default=1, ge=1)
    # Celery hard limit for one render. Must stay below the broker's visibility timeout, or
    # Redis hands a still-running task to a second worker.
    task_time_limit_s: int = Field(default=1800, ge=5)
    broker_visibility_timeout_s: int = Field(default=3600, ge=10)
    max_attempts: int = Field(default=3, ge=1)
    # A running clip whose heartbeat is older than this is taken to have lost its worker.
    stale_after_s: int = Field(default=120, ge=5)
    reconcile_interval_s: float = Field(default=15.0, gt=0)
    # `vivant serve` restarts its worker when clips sent this long ago still wait and no clip has started,
    # reported progress or finished for as long.
    watchdog_s: int = Field(default=120, ge=5)

    # Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (comma-separated IPs, or "*").
    # Behind a reverse proxy on another host, name it here: sign-in throttling counts per client address,
    # and without it every family member would share the proxy's.
    forwarded_allow_ips: str = "127.0.0.1"

    session_days: int = Field(default=30, ge=1)
    cookie_secure: Literal["auto", "always", "never"] = "auto"

    @model_validator(mode="after")
    def _limits_are_consistent(self) -> Settings:
        if self.task_hard_limit_s >= self.broker_visibility_timeout_s:
            raise ValueError(
                f"VIVANT_TASK_TIME_LIMIT_S ({self.task_time_limit_s}) plus {HARD_LIMIT_GRACE_S} s of grace "
                f"must be below VIVANT_BROKER_VISIBILITY_TIMEOUT_S ({self.broker_visibility_timeout_s}): "
                "otherwise the broker re-delivers a clip that is still rendering"
            )
        if self.watchdog_s <= self.heartbeat_interval_s:
            raise ValueError(
                f"VIVANT_WATCHDOG_S ({self.watchdog_s}) must be longer than a quarter of "
                f"VIVANT_STALE_AFTER_S ({self.stale_after_s}), how often a rendering worker reports: "
                "otherwise a worker busy in a long step would be restarted"
            )
        return self

    @property
    def heartbeat_interval_s(self) -> float:
        """How often a rendering worker reports that it is alive, even in a long step without progress."""
        return self.stale_after_s / 4

    @property
    def task_hard_limit_s(self) -> int:
        """When Celery kills a render outright; the soft limit before it lets the task mark its clip failed.

        The grace between them is HARD_LIMIT_GRACE_S.
        """
        return self.task_time_limit_s + HARD_LIMIT_GRACE_S

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # Plain postgresql:// would pick psycopg2, which we do not ship.
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return url
        return f"sqlite:///{self.data_dir.resolve() / 'vivant.db'}"

    @property
    def celery_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{self.data_dir.resolve() / 'broker.sqlite'}"

    @property
    def uses_embedded_broker(self) -> bool:
        return self.celery_broker_url.startswith(("sqla+", "filesystem://"))

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def min_free_bytes(self) -> int:
        return self.min_free_mb * 1024 * 1024

    @property
    def secret_key_path(self) -> Path:
        """Where the generated secret is kept when VIVANT_SECRET_KEY is unset (backups carry it)."""
        return self.data_dir / "secret_key"

    @cached_property
    def session_secret(self) -> str:
        """The configured secret, or one generated once and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.secret_key_path
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(key)
        tmp.chmod(0o600)
        tmp.replace(path)
        return key

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.media_dir.mkdir(parents=True, exist_ok=True)
