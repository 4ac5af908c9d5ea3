"""benchmarks/heldout.py (the README's held-out check): the LR it makes, and its refusal of a missing folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skimage import data

from benchmarks import heldout


def test_heldout_lr_is_blurred_area_downscaled_webp() -> None:
    hr = data.astronaut()[:203, :150]  # not a multiple of 4: cropped
    hr2, lr = heldout.heldout_pair(hr, 4, 0.8, 40)
    assert hr2.shape == (200, 148, 3) and lr.shape == (50, 37, 3) and lr.dtype == np.uint8
    again = heldout.heldout_pair(hr, 4, 0.8, 40)[1]
    assert np.array_equal(lr, again)  # deterministic: the committed JSON can be reproduced
    sharper = heldout.heldout_pair(hr, 4, 0.8, 95)[1]
    assert not np.array_equal(lr, sharper)  # the WebP quality is applied


def test_missing_folder_is_one_line_exit_2(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert heldout.main(["--data", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip().startswith("error:")
