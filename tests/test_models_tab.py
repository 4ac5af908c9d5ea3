"""The Models tab shows each method as it runs by default: GAN methods at their default α, from committed JSON.

Why: the model cards of ``srgan``/``real-gan`` measured the GAN end (α = 1), while a user who picks the
method gets its default α; showing the first under the method's name misstated what it does.
"""

from __future__ import annotations

import json

import pytest
from conftest import REPO

from app.models_tab import DATASETS, default_spec, measured, strength_default, summary_table
from srcore.registry import all_methods

GAN_METHODS = [m for m in all_methods() if strength_default(m) is not None]


def test_there_are_methods_with_a_strength() -> None:
    assert {"srgan", "real-gan"} <= {m.id for m in GAN_METHODS}


@pytest.mark.parametrize("method", GAN_METHODS, ids=[m.id for m in GAN_METHODS])
def test_gan_rows_are_at_the_default_strength(method) -> None:  # noqa: ANN001 - an Upscaler
    spec = default_spec(method)
    assert spec == f"{method.id}@{strength_default(method):g}"
    got = measured(method)
    for ds in DATASETS:
        committed = json.loads((REPO / "docs" / f"bench_gan_defaults_{ds}_x4.json").read_text())["results"]
        assert spec in committed, f"docs/bench_gan_defaults_{ds}_x4.json lacks {spec}: rerun the command in README 'Results'"
        assert got[ds]["psnr_y"] == committed[spec]["psnr_y"] and got[ds]["lpips"] == committed[spec]["lpips"]
    html = summary_table()
    assert f"(α {strength_default(method):g}, its default)" in html
    assert f"{got['Set14']['psnr_y']:.2f}" in html
