"""Server options: one dataclass filled from the command line or, for a hosted Space, the environment.

The same ``app.py`` runs as ``python app.py --port 8000`` and as a Hugging Face Space (which
imports/starts it without arguments), so every flag has an environment-variable twin.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

from srcore.paths import REPO_ROOT

#: Largest input image (width x height) the web app accepts by default: 2048 x 2048. Lower than the
#: CLI's limit because every output is held in memory per session and upscale mode multiplies it by scale².
DEFAULT_MAX_PIXELS = 2048 * 2048
DEFAULT_MAX_FILE_SIZE = "25mb"
#: The standard Set5/Set14 pairs, when this checkout sits next to the shared data folder.
SHARED_BENCHMARK_DIR = REPO_ROOT.parent / "shared" / "data" / "benchmark"


def _env_bool(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return default


@dataclass
class AppConfig:
    """Everything the operator decides; the UI never widens what is allowed here."""

    host: str | None = None  # None: gradio's default (127.0.0.1, or GRADIO_SERVER_NAME)
    port: int | None = None  # None: gradio's default (7860, or GRADIO_SERVER_PORT)
    share: bool = False
    models_dir: Path | None = None
    data_dirs: list[Path] = field(default_factory=list)
    allow_file_models: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_file_size: str | int = DEFAULT_MAX_FILE_SIZE
    #: Heavy jobs (comparisons, benchmarks) running at once; the rest wait in the queue.
    concurrency: int = 1
    #: Offer the shared Set5/Set14 folder in the Benchmark tab when it exists.
    use_shared_benchmarks: bool = True

    @classmethod
    def from_env(cls) -> AppConfig:
        """Defaults for a hosted Space: ``SRLAB_MODELS_DIR``, ``SRLAB_DATA_DIRS`` (os.pathsep-separated),
        ``SRLAB_ALLOW_FILE_MODELS``, ``SRLAB_MAX_PIXELS``, ``SRLAB_MAX_FILE_SIZE``, ``SRLAB_CONCURRENCY``."""
        models = os.environ.get("SRLAB_MODELS_DIR")
        data = [Path(p) for p in os.environ.get("SRLAB_DATA_DIRS", "").split(os.pathsep) if p.strip()]
        return cls(
            models_dir=Path(models) if models else None,
            data_dirs=data,
            allow_file_models=_env_bool("SRLAB_ALLOW_FILE_MODELS"),
            max_pixels=_env_int("SRLAB_MAX_PIXELS", DEFAULT_MAX_PIXELS),
            max_file_size=os.environ.get("SRLAB_MAX_FILE_SIZE", DEFAULT_MAX_FILE_SIZE),
            concurrency=max(1, _env_int("SRLAB_CONCURRENCY", 1)),
        )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python app.py", description="SR Lab web app: compare and benchmark super-resolution methods.")
    p.add_argument("--host", help="interface to listen on, e.g. 0.0.0.0 (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 7860 or the next free one)")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    p.add_argument("--models-dir", type=Path, help="folder searched first for model files (also: SRLAB_MODELS_DIR / SRCORE_MODELS)")
    p.add_argument("--data-dir", type=Path, action="append", default=None, metavar="DIR",
                   help="dataset folder offered in the Benchmark tab (repeatable); only these server folders are exposed")
    p.add_argument("--allow-file-models", action="store_true", help="let users run file:<path> models from this server's disk")
    p.add_argument("--max-pixels", type=int, help=f"largest input image in pixels (default {DEFAULT_MAX_PIXELS})")
    p.add_argument("--max-file-size", help=f"largest upload, e.g. 25mb (default {DEFAULT_MAX_FILE_SIZE})")
    p.add_argument("--concurrency", type=int, help="comparisons/benchmarks running at once (default 1)")
    return p


def parse_args(argv: list[str] | None = None) -> AppConfig:
    """Command-line flags over environment defaults."""
    args = build_parser().parse_args(argv)
    cfg = AppConfig.from_env()
    cfg.host = args.host or cfg.host
    cfg.port = args.port or cfg.port
    cfg.share = args.share
    if args.models_dir:
        cfg.models_dir = args.models_dir
    if args.data_dir:
        cfg.data_dirs = [*cfg.data_dirs, *args.data_dir]
    cfg.allow_file_models = args.allow_file_models or cfg.allow_file_models
    if args.max_pixels:
        cfg.max_pixels = args.max_pixels
    if args.max_file_size:
        cfg.max_file_size = args.max_file_size
    if args.concurrency:
        cfg.concurrency = max(1, args.concurrency)
    return cfg
