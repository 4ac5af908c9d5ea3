"""SR Lab's front door: ``python app.py [--host 0.0.0.0] [--port N] [--share] [--models-dir DIR] ...``.

Importing this module builds ``demo`` from environment defaults (SRLAB_MODELS_DIR, ...), which
is how a Hugging Face Space or ``gradio app.py`` finds it; run as a script it parses the flags.
"""

from __future__ import annotations

import sys

from app import AppConfig, build_app, launch, parse_args
from srcore.errors import SRError


def main(argv: list[str] | None = None) -> int:
    try:
        cfg = parse_args(argv)
        demo = build_app(cfg)
    except SRError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    launch(demo, cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
else:
    demo = build_app(AppConfig.from_env())
