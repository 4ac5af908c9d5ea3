"""SR Lab's Gradio app (UI only: every computation goes through ``srcore``)."""

from app.config import AppConfig, parse_args
from app.ui import build_app, launch

__all__ = ["AppConfig", "build_app", "launch", "parse_args"]
