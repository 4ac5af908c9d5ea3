"""RRDBNet and the student cut from Real-ESRGAN x4plus (``train.cut_teacher``), and the dial across architectures.

Why: ``real-gan`` is an RRDBNet that began as three of x4plus's blocks; the layer mapping from the ncnn graph must
be exact (the full 23-block network has to *be* x4plus), and the strength dial between it and ``real-edsr``'s EDSR
must give each network alone at its ends. The wheel is installed by requirements.txt, so nothing here skips.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srcore.methods.srgan import OutputBlend, dial_network
from srcore.models import EDSR, build_model, config_from_state_dict
from srcore.models.ncnn_graph import load_graph
from srcore.models.rrdb import RRDBNet, state_from_convs
from srcore.weights_io import load_state_dict
from train.cut_teacher import TEACHER
from train.cut_teacher import main as cut_teacher


@pytest.fixture(scope="module")
def x4plus():
    TEACHER.verify()
    return load_graph(TEACHER.param.read_text(), TEACHER.bin.read_bytes(), TEACHER.stem).eval()


def test_full_depth_rrdbnet_is_x4plus(x4plus) -> None:
    net = RRDBNet(num_block=23).eval()
    net.load_state_dict(state_from_convs(x4plus.convolutions(), list(range(23))))
    x = torch.rand(1, 3, 20, 17, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.allclose(net(x), x4plus(x), atol=1e-5)


def test_cut_keeps_the_chosen_blocks_and_the_whole_upsampler(x4plus, tmp_path: Path) -> None:
    out = tmp_path / "cut.safetensors"
    cut_teacher(["--blocks", "0,21,22", "--out", str(out)])
    state = load_state_dict(out)
    assert config_from_state_dict(state) == ("rrdb", {"scale": 4, "num_block": 3, "num_feat": 64, "num_grow": 32})
    convs = x4plus.convolutions()
    assert torch.equal(state["body.1.rdb2.conv3.weight"], convs[1 + 21 * 15 + 7][0])  # block 21, RDB 2, conv 3
    assert torch.equal(state["conv_up2.weight"], convs[-3][0])
    assert sum(v.numel() for v in state.values()) < 3_000_000  # issue 21's budget


@pytest.mark.parametrize("blocks", ["", "0,0", "0,23", "a"])
def test_cut_refuses_bad_block_lists(blocks: str, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        cut_teacher(["--blocks", blocks, "--out", str(tmp_path / "x.safetensors")])
    assert not (tmp_path / "x.safetensors").exists()


def test_state_from_convs_refuses_a_network_that_is_not_rrdb() -> None:
    with pytest.raises(ValueError, match="do not make an RRDBNet"):
        state_from_convs([(torch.zeros(1), torch.zeros(1))] * 10, [0])


def test_dial_across_architectures_blends_outputs_and_is_each_network_at_its_ends() -> None:
    torch.manual_seed(0)
    psnr, gan = EDSR(4, n_blocks=2, n_feats=16).eval(), RRDBNet(num_block=1, num_feat=16, num_grow=8).eval()
    ps, gs = psnr.state_dict(), gan.state_dict()
    x = torch.rand(1, 3, 9, 11)
    with torch.inference_mode():
        a, b = psnr(x), gan(x)
        at0, at1, half = (dial_network(ps, gs, alpha)(x) for alpha in (0.0, 1.0, 0.5))
    assert isinstance(dial_network(ps, gs, 0.5), OutputBlend)
    assert torch.equal(at0, a) and torch.equal(at1, b)
    assert torch.allclose(half, (a + b) / 2, atol=1e-6)


def test_dial_within_one_architecture_interpolates_weights() -> None:
    torch.manual_seed(0)
    one, two = (build_model("rrdb", 4, num_block=1, num_feat=16, num_grow=8) for _ in range(2))
    net = dial_network(one.state_dict(), two.state_dict(), 0.25)
    assert isinstance(net, RRDBNet)
    w = net.state_dict()["conv_first.weight"]
    assert torch.allclose(w, 0.75 * one.conv_first.weight + 0.25 * two.conv_first.weight)
