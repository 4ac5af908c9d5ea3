"""train.sr's losses (``--loss``): each is differentiable and trains a tiny network; specs parse as documented;
the U-Net methods are listed and, once their weights ship, run; the autoencoder only once it beats bicubic."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import REPO

from srcore.models import build_model
from srcore.registry import all_methods, get_method
from srcore.weights import load_card
from train.losses import SR_LOSSES, SRLoss, hfen_loss, log_kernel, luma_l1, parse_loss_spec, ssim_loss


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one torch thread, so a busy machine's scheduling does not dominate the run time."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def patch_pair(astronaut: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """One 32-px HR patch of a real photo and its 8-px bicubic LR."""
    hr = torch.from_numpy(astronaut[40:72, 200:232].copy()).permute(2, 0, 1)[None].float() / 255
    lr = F.interpolate(hr, scale_factor=0.25, mode="bicubic", antialias=True).clamp(0, 1)
    return lr, hr


#: Loss terms that only penalise an excess over the target (train/losses.py's guards against painted patterns).
ONE_SIDED = ("detail", "lattice")


@pytest.mark.parametrize("spec", [*SR_LOSSES, "hfen:2,l1:1"])
def test_loss_is_differentiable_and_overfits(spec: str, patch_pair) -> None:
    """A few Adam steps of a small U-Net on one patch lower every loss (so its gradient points somewhere useful).

    The one-sided guards (``detail``, ``lattice``) are zero for an output smoother than the target, which is where
    a fresh network starts; for them the output carries a fixed 4-px pattern the network must learn to cancel.
    """
    lr, hr = patch_pair
    torch.manual_seed(0)
    net = build_model("unet", 4, n_feats=8)
    pattern = 0.4 * (torch.rand(1, 1, 4, 4) - 0.5).repeat(1, 3, 8, 8) if spec in ONE_SIDED else 0.0
    loss_fn = SRLoss(spec)
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    losses = []
    for _ in range(8):
        loss = loss_fn(net(lr) + pattern, hr)
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.95 * losses[0], losses
    assert set(loss_fn.last_terms) == set(parse_loss_spec(spec))


def test_loss_specs_parse() -> None:
    assert parse_loss_spec("l1") == {"l1": 1.0}
    assert parse_loss_spec("ssim+l1") == {"ssim": 1.0, "l1": 1.0}
    assert parse_loss_spec("l1:1,ssim:1") == {"l1": 1.0, "ssim": 1.0}
    assert parse_loss_spec("perceptual:1, l1:0.1") == {"perceptual": 1.0, "l1": 0.1}
    for bad in ("l2", "l1:x", "ssim+"):
        with pytest.raises(ValueError):
            parse_loss_spec(bad)


def test_pixel_losses_are_the_plain_ones(patch_pair) -> None:
    """``--loss l1`` / ``mse`` compute exactly what train.sr used before the losses were combinable."""
    lr, hr = patch_pair
    sr = F.interpolate(lr, scale_factor=4, mode="bicubic")
    assert torch.equal(SRLoss("l1")(sr, hr), F.l1_loss(sr, hr))
    assert torch.equal(SRLoss("mse")(sr, hr), F.mse_loss(sr, hr))


def test_luma_l1_scores_only_the_plane_the_metrics_score(patch_pair) -> None:
    """``l1-y``: blind to a pure chroma change, and for a grey error the BT.601 Y gain (219/255) times plain L1."""
    _, hr = patch_pair
    y = torch.tensor((65.481, 128.553, 24.966)).view(1, 3, 1, 1) / 255
    cb = torch.tensor((-0.168736, -0.331264, 0.5)).view(1, 3, 1, 1)
    chroma_only = cb - (cb * y).sum(1, keepdim=True) / (y * y).sum(1, keepdim=True) * y  # orthogonal to the Y row
    assert float(luma_l1(hr + 0.05 * chroma_only, hr)) == pytest.approx(0, abs=1e-6)
    assert float(luma_l1(hr + 0.02, hr)) == pytest.approx(0.02 * 219 / 255, rel=1e-4)
    assert float(SRLoss("l1-y")(hr + 0.02, hr)) == float(luma_l1(hr + 0.02, hr))


def test_ssim_and_hfen_basics(patch_pair) -> None:
    """Identical images: SSIM loss and HFEN 0; the LoG kernel sums to 0 (blind to flat areas); blur costs more HFEN than noise-free."""
    _, hr = patch_pair
    assert float(ssim_loss(hr, hr)) == pytest.approx(0, abs=1e-6)
    assert float(ssim_loss(hr, hr, luma=True)) == pytest.approx(0, abs=1e-6)
    assert float(hfen_loss(hr, hr)) == 0
    assert abs(float(log_kernel().sum())) < 1e-6
    assert float(hfen_loss(hr + 0.1, hr)) == pytest.approx(0, abs=1e-5)  # a brightness shift is not a high frequency
    blurred = F.avg_pool2d(hr, 3, 1, 1, count_include_pad=False)
    assert float(hfen_loss(blurred, hr)) > 0.01 and float(ssim_loss(blurred, hr)) > 0.01


SHIPPED = {"unet": "unet_x4", "unet-perceptual": "unet_perceptual_x4"}


def test_autoencoder_is_a_method_only_once_it_beats_bicubic() -> None:
    """Issue 25: the no-skip baseline is offered as a method only if it beats bicubic by >= 0.3 dB (Set5 x4 PSNR-Y).

    Its weights stay in assets/ for the loss study; the numbers come from its card and the committed bicubic run.
    """
    card = load_card("autoencoder_x4")
    assert card is not None
    bicubic = json.loads((REPO / "docs" / "bench_Set5_x4.json").read_text())["results"]["bicubic"]["psnr_y"]
    listed = "autoencoder" in {m.id for m in all_methods()}
    assert listed == (card["metrics"]["Set5"]["psnr_y"] >= bicubic + 0.3), (card["metrics"]["Set5"]["psnr_y"], bicubic)


@pytest.mark.parametrize("method_id", sorted(SHIPPED))
def test_encoder_decoder_methods(method_id: str, astronaut: np.ndarray) -> None:
    """Listed by ``methods``; available with a card naming the crappify training data, and runs, once shipped."""
    assert method_id in {m.id for m in all_methods()}
    card = load_card(SHIPPED[method_id])
    m = get_method(method_id)
    assert card is not None, f"{SHIPPED[method_id]} ships in assets/; its card is missing"
    assert m.availability(4) and card["arch"] in ("unet", "autoencoder")
    assert "JPEG" in card["training"]["data_description"]
    out = m.upscale(astronaut[:30, :42], 4)
    assert out.shape == (120, 168, 3)
