"""Where model weights live, for every model `vivant models` knows: VIVANT_MODEL_DIR first, then the
Hugging Face cache. And the one function that downloads.

Imported by `vivant models list` and the CPU engine, which run without the gpu extra: nothing here may import
torch or transformers. huggingface_hub is imported only here, in the two
functions that fetch files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from worker.engines.base import EngineError

if TYPE_CHECKING:
    from app.config import Settings


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, resolved the way huggingface_hub does, without importing it."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "huggingface" / "hub"


def cache_repo_dir(repo_id: str) -> Path:
    return hf_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder `refs/main` names in the cache (else the newest one there), or None."""
    repo = cache_repo_dir(repo_id)
    ref = repo / "refs" / "main"
    if ref.is_file():
        snapshot = repo / "snapshots" / ref.read_text().strip()
        return snapshot if snapshot.is_dir() else None
    snapshots = sorted((repo / "snapshots").glob("*")) if (repo / "snapshots").is_dir() else []
    return snapshots[-1] if snapshots else None


def local_folders(name: str, repo_id: str, model_dir: Path | None) -> list[Path]:
    """Folders in VIVANT_MODEL_DIR that may hold a model: named for Vivant's name of it or the repo's."""
    if model_dir is None:
        return []
    return [model_dir / name, model_dir / repo_id.split("/")[-1]]


def pull_folder(name: str, settings: Settings) -> Path | None:
    """The folder `vivant models pull` writes a model into: VIVANT_MODEL_DIR/<name>, or None for the cache."""
    return settings.model_dir / name if settings.model_dir is not None else None


def expected_location(name: str, repo_id: str, settings: Settings) -> Path:
    """Where `vivant models pull` puts a model's files."""
    return pull_folder(name, settings) or cache_repo_dir(repo_id)


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        raise EngineError("pulling weights needs the gpu extra: pip install 'vivant[gpu]'") from None
    return huggingface_hub


@contextmanager
def _said_plainly(repo_id: str) -> Iterator[None]:
    # The hub's errors (offline, not found, refused) are all OSErrors: one line instead of a traceback.
    try:
        yield
    except OSError as exc:
        raise EngineError(f"could not fetch {repo_id}: {exc}") from None


def download(repo_id: str, *, allow_patterns: tuple[str, ...], local_dir: Path | None) -> Path:
    """Fetch the matching files of a Hugging Face repo into `local_dir`, else into the cache."""
    hub = _hub()
    with _said_plainly(repo_id):
        return Path(hub.snapshot_download(repo_id, allow_patterns=list(allow_patterns), local_dir=local_dir))


def download_file(repo_id: str, filename: str, *, local_dir: Path | None) -> Path:
    """Fetch one file of a Hugging Face repo into `local_dir`, else into the cache."""
    hub = _hub()
    with _said_plainly(repo_id):
        return Path(hub.hf_hub_download(repo_id, filename, local_dir=local_dir))


@dataclass(frozen=True)
class ModelFolder:
    """A model kept as one folder of files (a transformers checkpoint), as `vivant models` sees it."""

    name: str  # what `vivant models pull NAME` calls it
    title: str
    repo_id: str
    licence: str
    download_gb: float
    files: tuple[str, ...]  # every file the model needs; `vivant models pull` fetches exactly these

    def locate(self, model_dir: Path | None) -> Path | None:
        """The first folder, in `model_dir` (VIVANT_MODEL_DIR) or the Hugging Face cache, that holds every
        file."""
        snapshot = cached_snapshot(self.repo_id)
        candidates = local_folders(self.name, self.repo_id, model_dir) + ([snapshot] if snapshot else [])
        return next(
            (folder for folder in candidates if all((folder / f).is_file() for f in self.files)), None
        )

    def expected_location(self, settings: Settings) -> Path:
        return expected_location(self.name, self.repo_id, settings)

    def pull(self, settings: Settings) -> Path:
        folder = download(self.repo_id, allow_patterns=self.files, local_dir=pull_folder(self.name, settings))
        if self.locate(settings.model_dir) is None:
            raise EngineError(
                f"downloaded {self.repo_id} into {folder}, but some of its files are still missing"
            )
        return folder
