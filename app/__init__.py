"""SR Lab's Gradio app (UI only: every computation goes through ``srcore``).

``app.py`` (the launcher) and this package share a name; ``from app import demo`` therefore
reaches the package, so it builds the same environment-configured ``demo`` lazily on first access.
"""

from __future__ import annotations

from typing import Any

from app.config import AppConfig, parse_args
from app.ui import build_app, launch

__all__ = ["AppConfig", "build_app", "demo", "launch", "parse_args"]

_demo: Any = None


def __getattr__(name: str) -> Any:
    global _demo
    if name == "demo":
        if _demo is None:
            _demo = build_app(AppConfig.from_env())
        return _demo
    raise AttributeError(f"module 'app' has no attribute {name!r}")
