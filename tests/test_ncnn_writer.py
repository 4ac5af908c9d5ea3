"""Our torch networks written as ncnn files (``srcore.models.ncnn_writer``) and run on ncnn's engine.

Held three ways: the ``ncnn`` package's own inference of the written files equals torch's output, our ncnn
reader (``srcore.models.ncnn_graph``) reads them back into the same function, and the files obey ncnn's
rules (one consumer per blob, activations folded into convolutions, scaled sums as one Eltwise).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import require_shipped
from torch import nn

from srcore import backends
from srcore.methods.srgan import OutputBlend
from srcore.models.edsr import EDSR
from srcore.models.ncnn_graph import load_graph, parse_param
from srcore.models.ncnn_writer import INPUT, OUTPUT, NcnnWriteError, to_ncnn
from srcore.models.rrdb import RRDBNet
from srcore.ncnn_runtime import NcnnNet
from srcore.registry import get_method


def _nets() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    rrdb = RRDBNet(num_block=2, num_feat=16, num_grow=8)
    edsr = EDSR(n_blocks=2, n_feats=16, scale=4)
    return {"rrdb": rrdb, "edsr": edsr, "blend": OutputBlend(edsr, rrdb, 0.3)}


def _run_ncnn(module: nn.Module, x: torch.Tensor, tmp_path) -> np.ndarray:
    text, data = to_ncnn(module)
    (tmp_path / "m.param").write_text(text)
    (tmp_path / "m.bin").write_bytes(data)
    return NcnnNet(tmp_path / "m.param", tmp_path / "m.bin", INPUT, OUTPUT, [], 2)(x.numpy())


@pytest.mark.parametrize("name", ["rrdb", "edsr", "blend"])
def test_ncnn_runs_the_written_network_as_torch_does(name: str, tmp_path) -> None:
    net = _nets()[name].eval()
    x = torch.rand(1, 3, 19, 26)  # odd sizes: padding and resize must not assume multiples
    with torch.no_grad():
        ref = net(x).numpy()
    y = _run_ncnn(net, x, tmp_path)
    assert y.shape == ref.shape
    assert np.abs(y - ref).max() < 1e-4 * max(1.0, float(np.abs(ref).max()))


@pytest.mark.parametrize("name", ["rrdb", "edsr", "blend"])
def test_our_reader_reads_the_written_files_back(name: str) -> None:
    net = _nets()[name].eval()
    text, data = to_ncnn(net)
    x = torch.rand(2, 3, 12, 10)
    with torch.no_grad():
        assert torch.allclose(load_graph(text, data, name)(x), net(x), atol=1e-5)


def test_written_graph_follows_ncnn_rules_and_folds() -> None:
    layers = parse_param(to_ncnn(_nets()["blend"])[0])
    reads: dict[str, int] = {}
    for layer in layers:
        for b in layer.bottoms:
            reads[b] = reads.get(b, 0) + 1
    assert max(reads.values()) == 1, "a blob read twice without a Split"
    types = [layer.type for layer in layers]
    assert "ReLU" not in types, "RRDB's leaky ReLUs should be folded into their convolutions"
    assert sum(1 for layer in layers if layer.type == "Convolution" and layer.get(9) == 2) > 10
    coeffs = [layer.get(1) for layer in layers if layer.type == "Eltwise" and layer.get(1)]
    # the dial is one Eltwise: (1 - a) * edsr + a * rrdb, EDSR's closing / 255 folded into the first coefficient
    assert sum(1 for c in coeffs if c == pytest.approx([0.7 / 255, 0.3])) == 1
    assert sum(1 for c in coeffs if c == pytest.approx([1.0, 0.2])) == 2 * (3 + 1)  # x + 0.2 * y: each RDB and RRDB
    assert layers[-1].tops == (OUTPUT,)


class _Tanh(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 12, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(torch.tanh(self.conv(x)), 2)


def test_unknown_layer_is_named_and_the_backend_runs_it_on_torch() -> None:
    net = _Tanh().eval()
    with pytest.raises(NcnnWriteError, match="tanh"):
        to_ncnn(net)
    x = torch.rand(1, 3, 8, 8)
    with backends.use_backend("ncnn"), torch.no_grad():
        y = backends.forward_for(net, torch.device("cpu"), False)(x)
        assert torch.allclose(y, net(x), atol=1e-6)


def test_shipped_real_gan_runs_on_the_ncnn_engine() -> None:
    """``--backend ncnn``: real-gan runs on ncnn itself (the same engine as realesrgan-x4plus there), within 1/255 of torch."""
    photo = np.random.default_rng(3).integers(0, 256, (24, 30, 3), dtype=np.uint8)
    m = get_method("real-gan")
    a = m.upscale(photo, 4, tile=0, backend="torch")
    b = m.upscale(photo, 4, tile=0, backend="ncnn")
    assert np.abs(a.astype(int) - b).max() <= 1
    engines = [set(per) for per in list(backends._runners.values())]
    assert any("ncnn" in e for e in engines), "real-gan did not run on ncnn"


def test_cli_exports_real_gan_as_ncnn_files_that_ncnn_runs(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """``export --format ncnn``: the .param + .bin users get run on ncnn within 1/255 of the method itself."""
    from srcore.cli import main

    require_shipped("real-gan", 4)
    out = tmp_path / "rg.param"
    assert main(["export", "real-gan", "-s", "4", "--strength", "0.5", "--format", "ncnn", "-o", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rg.bin", "rg.param"]
    printed = capsys.readouterr().out
    assert "real-gan x4" in printed and f"{INPUT} -> {OUTPUT}" in printed
    photo = np.random.default_rng(5).integers(0, 256, (21, 17, 3), dtype=np.uint8)
    x = (photo.astype(np.float32) / 255).transpose(2, 0, 1)[None]
    y = NcnnNet(out, out.with_suffix(".bin"), INPUT, OUTPUT, [], 2)(x)
    got = np.round(np.clip(y[0], 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)
    ref = get_method("real-gan").upscale(photo, 4, tile=0, backend="torch-nchw", strength=0.5)
    assert got.shape == ref.shape and np.abs(got.astype(int) - ref).max() <= 1


def test_cli_ncnn_export_refusals_are_one_line_and_write_nothing(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from srcore.cli import main

    assert main(["export", "edsr", "-s", "4", "--format", "ncnn", "-o", str(tmp_path / "x.onnx")]) == 2  # not .param
    assert main(["export", "bicubic", "-s", "4", "--format", "ncnn", "-o", str(tmp_path / "x.param")]) == 2
    assert main(["export", "unet-perceptual", "-s", "4", "--format", "ncnn", "-o", str(tmp_path / "u.param")]) == 2
    (tmp_path / "e.bin").mkdir()  # where the .bin would go
    assert main(["export", "edsr", "-s", "4", "--format", "ncnn", "-o", str(tmp_path / "e.param")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("error: ") for line in err), err
    assert "as ONNX instead" in err[2] and "is a folder" in err[3]
    assert [p.name for p in tmp_path.iterdir()] == ["e.bin"]


class _ReluBehindIdentity(nn.Module):
    """relu(identity(conv(x))) + conv(x): the convolution's output has a second reader the ReLU must not fold over."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.same = nn.Conv2d(3, 3, 3, padding=1), nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return F.relu(self.same(y)) + y


class _InplaceReluOnShared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.act = nn.Conv2d(3, 3, 3, padding=1), nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y + self.act(y)  # torch: y is changed by the ReLU before the sum


class _InplaceAddOnAlias(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        w = y
        y += 1  # torch changes w too; torch.fx records a new value instead
        return w * 2


class _MeanBuffer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.register_buffer("mean", torch.full((1, 3, 1, 1), 0.4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x - self.mean)


class _Antialiased(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.conv(x), scale_factor=0.5, mode="bilinear", antialias=True)


def test_activation_is_not_folded_over_a_second_reader(tmp_path) -> None:
    torch.manual_seed(1)
    net = _ReluBehindIdentity().eval()
    x = torch.randn(1, 3, 9, 11)
    with torch.no_grad():
        ref = net(x).numpy()
    assert np.abs(_run_ncnn(net, x, tmp_path) - ref).max() < 1e-5


@pytest.mark.parametrize(("net", "words"), [(_InplaceReluOnShared(), "in-place"), (_InplaceAddOnAlias(), "in-place"),
                                            (_MeanBuffer(), "constant"), (_Antialiased(), "antialias")])
def test_what_ncnn_would_compute_differently_is_refused_in_one_line(net: nn.Module, words: str) -> None:
    """Never a wrong file and never a stray TypeError: an NcnnWriteError, so the backend falls back to torch."""
    with pytest.raises(NcnnWriteError, match=words) as info:
        to_ncnn(net.eval())
    assert "\n" not in str(info.value)


def test_writing_a_network_does_not_break_torch_in_other_threads() -> None:
    """torch.fx patches nn.Module.__call__ process-wide while tracing: the backend writes in a child process, so a
    request running a torch module meanwhile (the app serves several) is untouched."""
    import threading

    torch.manual_seed(7)
    fresh = RRDBNet(num_block=1, num_feat=8, num_grow=4).eval()  # new weights: a new cache key, so it is written now
    other, errors, done = nn.Conv2d(3, 3, 3, padding=1).eval(), [], threading.Event()

    def busy() -> None:
        x = torch.rand(1, 3, 8, 8)
        while not done.is_set():
            try:
                with torch.no_grad():
                    other(x)
            except Exception as exc:  # what an in-process trace causes: NameError from fx's patched __call__
                errors.append(exc)

    t = threading.Thread(target=busy)
    t.start()
    try:
        with backends.use_backend("ncnn"), torch.no_grad():
            y = backends.forward_for(fresh, torch.device("cpu"), False)(torch.rand(1, 3, 6, 6))
    finally:
        done.set()
        t.join()
    assert y.shape == (1, 3, 24, 24)
    assert "ncnn" in backends._runners[fresh], "the fresh network did not run on ncnn"
    assert not errors, f"{len(errors)} torch calls failed in another thread, first: {errors[0]!r}"
