"""Architectures, official EDSR checkpoints, and user model files loaded through spandrel."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from srcore.errors import MethodError, ModelFileError
from srcore.models import EDSR, ESPCN, FSRCNN, build_model
from srcore.registry import get_method


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_shapes(scale: int) -> None:
    x_rgb, x_y = torch.rand(1, 3, 11, 13), torch.rand(1, 1, 11, 13)
    with torch.no_grad():
        assert EDSR(scale).eval()(x_rgb).shape == (1, 3, 11 * scale, 13 * scale)
        assert EDSR(scale, n_blocks=2, n_feats=256, res_scale=0.1)(x_rgb).shape == (1, 3, 11 * scale, 13 * scale)
        assert ESPCN(scale)(x_y).shape == (1, 1, 11 * scale, 13 * scale)
        assert FSRCNN(scale)(x_y).shape == (1, 1, 11 * scale, 13 * scale)
        assert FSRCNN(scale, d=32, s=5, m=1, last_kernel=1)(x_y).shape == (1, 1, 11 * scale, 13 * scale)
        for arch in ("unet", "autoencoder"):  # any size: padded to the level grid inside, output cropped back
            net = build_model(arch, scale)
            assert net(x_rgb).shape == (1, 3, 11 * scale, 13 * scale)
            assert sum(p.numel() for p in net.parameters()) <= 2_000_000
    with pytest.raises(ValueError):
        build_model("swinir", 4)


def test_edsr_keys_follow_official_layout() -> None:
    keys = set(EDSR(4).state_dict())
    for k in ("sub_mean.weight", "add_mean.bias", "head.0.weight", "body.0.body.0.weight", "body.15.body.2.bias",
              "body.16.weight", "tail.0.0.weight", "tail.0.2.weight", "tail.1.weight"):
        assert k in keys
    assert "tail.0.0.weight" in EDSR(3).state_dict() and "tail.0.2.weight" not in EDSR(3).state_dict()


def _official_file(folder, scale: int, baseline: bool = True, tamper: bool = False):
    """Write an official-format EDSR checkpoint named like EDSR-PyTorch's (SHA-256 prefix in the name)."""
    torch.manual_seed(scale)
    model = EDSR(scale) if baseline else EDSR(scale, n_blocks=2, n_feats=256, res_scale=0.1)
    tmp = folder / "tmp.pt"
    torch.save(model.state_dict(), tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]
    if tamper:
        digest = "deadbeef"
    path = folder / f"edsr_{'baseline_' if baseline else ''}x{scale}-{digest}.pt"
    tmp.rename(path)
    return model, path


def test_official_edsr_checkpoint_loads(tmp_path, isolated_cache, astronaut) -> None:
    from srcore.paths import use_models_dir

    model, path = _official_file(tmp_path, 4)
    use_models_dir(tmp_path)
    try:
        m = get_method("edsr-official")
        assert m.availability(4) and not m.availability(2)
        img = astronaut[:24, :20]
        out = m.upscale(img, 4, tile=0)
        with torch.no_grad():
            ref = model.eval()(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255)
        ref = (ref.clamp(0, 1) * 255).round().byte()[0].permute(1, 2, 0).numpy()
        assert np.abs(out.astype(int) - ref).max() <= 1
    finally:
        use_models_dir(None)


def test_official_edsr_with_wrong_hash_is_refused(tmp_path, isolated_cache, astronaut) -> None:
    from srcore.paths import use_models_dir

    _official_file(tmp_path, 2, tamper=True)
    use_models_dir(tmp_path)
    try:
        with pytest.raises(ModelFileError, match="SHA-256"):
            get_method("edsr-official").upscale(astronaut[:8, :8], 2)
    finally:
        use_models_dir(None)


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_spandrel_file_method(tmp_path, astronaut, fmt: str) -> None:
    from spandrel.architectures.Compact import Compact as SRVGGNetCompact

    torch.manual_seed(0)
    net = SRVGGNetCompact(num_feat=16, num_conv=2, upscale=2)
    path = tmp_path / f"compact.{fmt}"
    if fmt == "pth":
        torch.save({"params": net.state_dict()}, path)
    else:
        save_file(net.state_dict(), str(path))
    m = get_method(f"file:{path}")
    assert m.arch == "RealESRGAN Compact" or "Compact" in m.arch
    assert m.scales == (2,)
    assert "x2" in m.label
    out = m.upscale(astronaut[:16, :12], 2, tile=0)
    assert out.shape == (32, 24, 3)
    with pytest.raises(MethodError, match="does not support x4"):
        m.upscale(astronaut[:16, :12], 4)


def test_spandrel_rrdbnet(tmp_path, astronaut) -> None:
    from spandrel.architectures.ESRGAN import ESRGAN as RRDBNet

    net = RRDBNet(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4)
    path = tmp_path / "esrgan.pth"
    torch.save(net.state_dict(), path)
    m = get_method(f"file:{path}")
    assert m.scales == (4,) and "ESRGAN" in m.arch
    assert m.upscale(astronaut[:8, :8], 4, tile=0).shape == (32, 32, 3)


def test_bad_model_files(tmp_path) -> None:
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ModelFileError, match="not a readable model file"):
        get_method(f"file:{junk}")
    unknown = tmp_path / "unknown.pth"
    torch.save({"foo.weight": torch.zeros(3)}, unknown)
    with pytest.raises(ModelFileError, match="spandrel does not recognise"):
        get_method(f"file:{unknown}")
    with pytest.raises(MethodError, match="not found"):
        get_method(f"file:{tmp_path / 'missing.pth'}")
    with pytest.raises(MethodError, match="disabled"):
        get_method(f"file:{junk}", allow_files=False)
    with pytest.raises(MethodError, match="outside the allowed"):
        get_method(f"file:{tmp_path}/../x.pth", allowed_dirs=[tmp_path / "models"])


def test_pickle_payload_is_never_executed(tmp_path) -> None:
    """A .pth carrying code (a pickle REDUCE) is refused by weights_only loading, not run."""

    class Evil:
        def __reduce__(self):
            return (open, (str(tmp_path / "pwned"), "w"))

    path = tmp_path / "evil.pth"
    torch.save({"x": Evil()}, path)
    with pytest.raises(ModelFileError):
        get_method(f"file:{path}")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("arch,scale,config", [("edsr", 2, {"n_blocks": 6}), ("edsr", 4, {"n_blocks": 6}),
                                               ("unet", 4, {"n_feats": 16}), ("autoencoder", 4, {"n_feats": 16})])
def test_torch_tiled_equals_untiled(arch: str, scale: int, config: dict, astronaut) -> None:
    """Tiles with a receptive-field margin reproduce the untiled output within 1/255 everywhere.

    EDSR with 6 blocks has a receptive radius of ~16 px; the U-Net and autoencoder ~30 LR px (two stride-2
    levels; narrowed to 16 features for speed, which leaves the receptive field as it is), also inside the
    40-px margin, and tile 24 / margin 40 keep every window on their 4-px level grid.
    """
    from srcore.methods.torch_sr import run_network

    torch.manual_seed(0)
    model = build_model(arch, scale, **config).eval()
    img = astronaut[100:164, 150:230]
    dev = torch.device("cpu")
    whole = run_network(model, img, scale, 0, 40, 1.0, dev).astype(int)
    tiled = run_network(model, img, scale, 24, 40, 1.0, dev).astype(int)
    assert whole.shape == tiled.shape == (64 * scale, 80 * scale, 3)
    assert np.abs(whole - tiled).max() <= 1
    # without the margin, seams appear - so the margin is what makes tiling exact
    seamy = run_network(model, img, scale, 24, 0, 1.0, dev).astype(int)
    assert np.abs(whole - seamy).max() > 1
