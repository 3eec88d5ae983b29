"""Motion engines, looked up by name. Imports are lazy so a CPU worker never loads torch."""

from __future__ import annotations

from functools import cache
from importlib import import_module

from worker.choices import ENGINE_NAMES, ENGINE_QUEUES
from worker.engines.base import Engine, EngineError

# name -> (module, class); the module is imported only when the engine is asked for.
_ENGINES: dict[str, tuple[str, str]] = {
    "parallax": ("worker.engines.parallax", "ParallaxEngine"),
    "diffusers": ("worker.engines.diffusers_i2v", "DiffusersEngine"),
}

__all__ = ["ENGINE_NAMES", "ENGINE_QUEUES", "Engine", "EngineError", "get_engine"]


@cache
def get_engine(name: str) -> Engine:
    """One engine instance per process: an engine may keep a loaded model between clips."""
    try:
        module_name, class_name = _ENGINES[name]
    except KeyError:
        raise EngineError(f"unknown engine {name!r}; choose one of {', '.join(_ENGINES)}") from None
    engine_class: type[Engine] = getattr(import_module(module_name), class_name)
    return engine_class()
