"""Training: a real (tiny) run learns, checkpoints atomically, resumes exactly, and runs under DDP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO
from PIL import Image

from srcore.backends import CpuInfo, cpu_info
from train.common import Runtime, bf16_note, load_checkpoint


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """Six small, structured training images (crops of scikit-image photos)."""
    from skimage import data

    root = tmp_path_factory.mktemp("tiny_train")
    sources = [data.astronaut(), data.coffee(), data.chelsea()]
    for i, img in enumerate(sources):
        Image.fromarray(img[100:196, 100:196]).save(root / f"a{i}.png")
        Image.fromarray(img[200:264, 150:230]).save(root / f"b{i}.png")
    return root


def train(args: list[str]) -> None:
    from train.sr import main

    main(args)


def base_args(data: Path, out: Path, arch: str = "espcn", iters: int = 6) -> list[str]:
    return ["--arch", arch, "--scale", "2", "--data", str(data), "--out", str(out), "--iters", str(iters), "--batch", "4",
            "--patch", "32", "--lr", "2e-3", "--warmup", "2", "--ckpt-every", "3", "--log-every", "1", "--val-every", "1000",
            "--device", "cpu", "--seed", "3"]


def test_smoke_loss_falls_and_checkpoint_written(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(base_args(tiny_data, out, "fsrcnn", iters=60) + ["--val", str(tiny_data), "--val-every", "60", "--log-every", "10"])
    log = (out / "train.log").read_text()
    losses = [float(line.split("loss ")[1].split()[0]) for line in log.splitlines() if " loss " in line]
    assert len(losses) == 6 and losses[-1] < losses[0]
    ck = load_checkpoint(out / "last.pt")
    assert ck["step"] == 60 and (out / "best.pt").is_file()
    assert "val PSNR-Y" in log
    assert list((out / "tb").glob("events.out.tfevents.*"))
    assert json.loads((out / "config.json").read_text())["command"].startswith("python -m train.sr")


@pytest.mark.parametrize("arch", ["espcn", "edsr"])
def test_resume_continues_exactly(tiny_data: Path, tmp_path: Path, arch: str) -> None:
    """6 steps straight == 3 steps, stop, --resume for 3 more: same step, weights, optimiser, schedule."""
    extra = ["--model-config", '{"n_blocks": 2, "n_feats": 16}'] if arch == "edsr" else []
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(base_args(tiny_data, straight, arch, 6) + extra)
    train(base_args(tiny_data, split, arch, 6) + extra + ["--stop-at", "3"])
    assert load_checkpoint(split / "last.pt")["step"] == 3
    train(base_args(tiny_data, split, arch, 6) + extra + ["--resume"])
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(split / "last.pt")
    assert a["step"] == b["step"] == 6
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"]
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=1e-6)
    assert "resumed from" in (split / "train.log").read_text()


def test_sr_ema_resumes_exactly_and_is_what_ships(tiny_data: Path, tmp_path: Path) -> None:
    """train.sr --ema: the average lags the raw weights, survives a resume, is validated and is what export_run ships."""
    from srcore.weights_io import load_state_dict
    from train.export import export_run

    extra = ["--model-config", '{"n_blocks": 2, "n_feats": 16}', "--ema", "0.5"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(base_args(tiny_data, straight, "edsr", 6) + extra + ["--val", str(tiny_data), "--val-every", "6"])
    train(base_args(tiny_data, split, "edsr", 6) + extra + ["--stop-at", "3"])
    train(base_args(tiny_data, split, "edsr", 6) + extra + ["--resume"])
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(split / "last.pt")
    assert a["ema"] == 0.5
    for k in a["model_ema"]:
        torch.testing.assert_close(a["model_ema"][k], b["model_ema"][k], rtol=0, atol=1e-6)
    assert any(not torch.equal(a["model"][k], a["model_ema"][k]) for k in a["model"]), "the average equals the raw weights"
    card = json.loads(export_run(straight, tmp_path / "assets", which="last", bench_root=None).read_text())
    shipped = load_state_dict(tmp_path / "assets" / card["file"])
    assert all(torch.equal(shipped[k], a["model_ema"][k]) for k in shipped)
    assert card["training"]["ema_decay"] == 0.5
    with pytest.raises(SystemExit):
        train(base_args(tiny_data, tmp_path / "bad", "edsr", 2) + ["--ema", "1.0"])


def test_every_invocation_recorded_and_card_derived_from_arguments(tiny_data: Path, tmp_path: Path) -> None:
    """A resumed run keeps all its commands (old single-``command`` configs included), and the card's data
    sentence comes from ``--data``/``--degrade``, not a fixed "291 images"."""
    from train.export import export_run

    out = tmp_path / "run"
    train(base_args(tiny_data, out, "espcn", 6) + ["--stop-at", "3"])
    config = json.loads((out / "config.json").read_text())
    config.pop("commands")  # as written before the list existed: one "command" string
    (out / "config.json").write_text(json.dumps(config))
    train(base_args(tiny_data, out, "espcn", 6) + ["--resume", "--degrade", "jpeg", "--clean-share", "0.5"])
    commands = json.loads((out / "config.json").read_text())["commands"]
    assert len(commands) == 2 and "--stop-at 3" in commands[0] and "--resume" in commands[1]
    card = json.loads(export_run(out, tmp_path / "assets", which="last", bench_root=None).read_text())["training"]
    assert card["commands"] == commands and card["command"] == commands[1]
    assert card["data_description"].startswith(f"6 images from {tiny_data}; LR by MATLAB-style bicubic + JPEG")
    assert "except 50% clean bicubic" in card["data_description"]


def test_ddp_gloo_two_processes(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port", str(29500 + os.getpid() % 1000),
           "-m", "train.sr", *base_args(tiny_data, out, "espcn", 4)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (out / "train.log").read_text()
    assert "world 2" in log
    assert load_checkpoint(out / "last.pt")["step"] == 4


def test_sigkill_mid_save_resumes_from_last_complete_checkpoint(tiny_data: Path, tmp_path: Path) -> None:
    """Kill -9 while checkpoints are being written every step: last.pt always loads and --resume works."""
    out = tmp_path / "killed"
    args = base_args(tiny_data, out, "edsr", 100000) + ["--ckpt-every", "1", "--model-config", '{"n_blocks": 4, "n_feats": 32}']
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rng = np.random.default_rng(0)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "train.sr", *args, "--resume"], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while not (out / "last.pt").exists() and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(float(rng.uniform(0.5, 2.0)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        ck = load_checkpoint(out / "last.pt")  # must be complete, never half-written
        assert ck["step"] >= 1
    step_before = load_checkpoint(out / "last.pt")["step"]
    train([*args, "--stop-at", str(step_before + 2), "--resume"])
    assert load_checkpoint(out / "last.pt")["step"] == step_before + 2
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def _tiny_generator(tmp_path: Path) -> Path:
    from safetensors.torch import save_file

    from srcore.models import EDSR

    torch.manual_seed(0)
    path = tmp_path / "g_init.safetensors"
    save_file(EDSR(4, n_blocks=2, n_feats=16).state_dict(), str(path))
    return path


def srgan_args(data: Path, init: Path, out: Path, iters: int) -> list[str]:
    return ["--init", str(init), "--data", str(data), "--out", str(out), "--iters", str(iters), "--batch", "2", "--patch", "32",
            "--d-width", "8", "--d-warmup", "2", "--content", "st-vgg16", "--ckpt-every", "2", "--log-every", "2",
            "--image-every", "2", "--device", "cpu", "--seed", "5"]


def test_srgan_runs_and_resumes_exactly(tiny_data: Path, tmp_path: Path) -> None:
    from train.srgan import main as srgan_main

    init = _tiny_generator(tmp_path)
    straight, split = tmp_path / "straight", tmp_path / "split"
    srgan_main(srgan_args(tiny_data, init, straight, 6) + ["--val", str(tiny_data), "--val-limit", "2", "--val-every", "6"])
    srgan_main(srgan_args(tiny_data, init, split, 6) + ["--stop-at", "3"])
    mid = load_checkpoint(split / "last.pt")
    srgan_main(srgan_args(tiny_data, init, split, 6) + ["--resume"])
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(split / "last.pt")
    assert a["step"] == b["step"] == 6
    for part in ("model", "discriminator"):
        for k in a[part]:
            torch.testing.assert_close(a[part][k], b[part][k], rtol=0, atol=1e-5)
    log = (straight / "train.log").read_text()
    assert "content" in log and "d_real" in log and "ST-LPIPS-alex" in log and "ST-LPIPS-vgg" in log
    # both networks learn, and both losses move from one logged window to the next
    for part in ("model", "discriminator"):
        assert any(not torch.equal(a[part][k], mid[part][k]) for k in a[part]), f"{part} did not change from step 3 to 6"
    logged = [dict(zip(m.split()[::2], map(float, m.split()[1::2]), strict=True))
              for m in re.findall(r"step \d+ ((?:content|d_loss) .*?) \d+ it/min", log)]
    g_losses = [r["content"] + r["adv"] for r in logged if "content" in r]
    d_losses = [r["d_loss"] for r in logged]
    assert len(g_losses) >= 2 and len(set(g_losses)) > 1 and len(set(d_losses)) > 1
    assert (straight / "best.pt").is_file()
    # the PSNR-trained starting point travels with the run, for the strength dial at export
    assert set(a["init_model"]) == set(a["model"])


def test_content_losses_build_and_vgg19_fails_clearly_offline() -> None:
    from train.losses import build_content_loss

    torch.manual_seed(0)
    hr = torch.rand(2, 3, 32, 32)
    sr = (hr + 0.1 * torch.randn_like(hr)).clamp(0, 1).requires_grad_(True)
    for kind in ("st-vgg16", "lpips"):
        loss_fn = build_content_loss(kind)
        assert float(loss_fn(hr, hr)) < 1e-6
        loss = loss_fn(sr, hr)
        assert float(loss.detach()) > 1e-4
        loss.backward()
        assert sr.grad is not None and float(sr.grad.abs().sum()) > 0
        sr.grad = None
    cached = Path(torch.hub.get_dir()) / "checkpoints" / "vgg19-dcbb9e9d.pth"
    if cached.is_file():  # an online user's machine: the paper's loss builds
        assert float(build_content_loss("vgg19")(sr, hr)) > 0
    else:
        with pytest.raises(SystemExit, match="offline, use --content st-vgg16"):
            build_content_loss("vgg19")


def test_lpips_loss_moves_its_own_network_not_the_shared_metric() -> None:
    """``.to(device)`` on the LPIPS content loss moves its network and its metric follows; the process-wide
    metric that benchmarks and validation share stays where it was (the meta device stands in for a GPU)."""
    from srcore.lpips import get_lpips
    from train.losses import build_content_loss

    shared = get_lpips("vgg", backend="st", device="cpu")
    loss_fn = build_content_loss("lpips").to(torch.device("meta"))
    assert loss_fn.metric.device.type == "meta" and next(loss_fn.parameters()).device.type == "meta"
    assert shared.device == torch.device("cpu") and next(shared.network.parameters()).device.type == "cpu"


def test_chroma_loss_sees_colour_not_luma() -> None:
    """The anti-speckle term: zero between two grey images however different, positive for a tint."""
    from train.losses import chroma_l1

    torch.manual_seed(0)
    grey_a, grey_b = torch.rand(2, 1, 16, 16).repeat(1, 3, 1, 1), torch.rand(2, 1, 16, 16).repeat(1, 3, 1, 1)
    assert float(chroma_l1(grey_a, grey_b)) < 1e-6
    tinted = grey_a.clone()
    tinted[:, 0] += 0.1  # more red
    loss = chroma_l1(tinted.requires_grad_(True), grey_a)
    assert float(loss.detach()) > 0.01
    loss.backward()
    assert float(tinted.grad.abs().sum()) > 0


def test_phase_loss_sees_checkerboards_not_offsets() -> None:
    """The anti-checkerboard term ignores a uniform error and flags a pattern repeating every 4 px."""
    from train.losses import phase_bias_l1

    torch.manual_seed(0)
    hr = torch.rand(2, 3, 32, 32)
    assert float(phase_bias_l1(hr + 0.05, hr)) < 1e-6  # same error at every phase: not a checkerboard
    pattern = torch.zeros(1, 1, 4, 4)
    pattern[..., 0, 0] = 0.1
    sr = (hr + pattern.repeat(1, 1, 8, 8)).requires_grad_(True)
    loss = phase_bias_l1(sr, hr)
    assert float(loss.detach()) > 0.005
    loss.backward()
    assert float(sr.grad.abs().sum()) > 0


def _edges_image() -> torch.Tensor:
    """A 96-px RGB test card: a smooth ramp with a bright square and a dark disc (edges in every direction)."""
    yy, xx = torch.meshgrid(torch.arange(96.0), torch.arange(96.0), indexing="ij")
    img = 0.3 + 0.2 * xx / 95
    img = torch.where((yy - 30).abs().maximum((xx - 30).abs()) < 14, torch.full_like(img, 0.8), img)
    img = torch.where(((yy - 64) ** 2 + (xx - 62) ** 2).sqrt() < 18, torch.full_like(img, 0.1), img)
    return img.expand(1, 3, 96, 96).contiguous()


def test_lattice_loss_sees_an_edge_zipper_not_texture() -> None:
    """The anti-zipper term: a 4-px pattern following the edges costs several times what broadband noise of the
    same RMS does (a GAN's texture), and a copy of the target costs nothing."""
    from train.losses import lattice_excess_l1

    torch.manual_seed(0)
    hr = _edges_image()
    assert float(lattice_excess_l1(hr, hr)) == 0.0
    gy, gx = torch.gradient(hr[:, :1], dim=(2, 3))
    edges = (gx.abs() + gy.abs() > 0.05).float()
    zipper = 0.05 * (torch.rand(1, 1, 4, 4) - 0.5).repeat(1, 1, 24, 24) * edges
    noise = torch.randn(1, 1, 96, 96) * zipper.pow(2).mean().sqrt()
    sr = (hr + zipper).requires_grad_(True)
    loss = lattice_excess_l1(sr, hr)
    assert float(loss.detach()) > 3 * float(lattice_excess_l1(hr + noise, hr))
    loss.backward()
    assert float(sr.grad.abs().sum()) > 0


def test_detail_loss_sees_added_gratings_not_lost_detail() -> None:
    """The anti-hatching term is one-sided: blurring the target costs (almost) nothing, a 3-px grating painted
    over its flat ramp costs, with a gradient."""
    from train.losses import detail_excess_l1

    hr = _edges_image()
    blurred = torch.nn.functional.avg_pool2d(torch.nn.functional.pad(hr, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    xx = torch.arange(96.0).view(1, 1, 1, 96)
    sr = (hr + 0.03 * torch.sin(2 * torch.pi * xx / 3)).requires_grad_(True)
    loss = detail_excess_l1(sr, hr)
    assert float(loss.detach()) > 0.005
    assert float(detail_excess_l1(blurred, hr)) < 0.05 * float(loss.detach())  # only where a moved edge spills over
    loss.backward()
    assert float(sr.grad.abs().sum()) > 0


def test_srgan_ema_resumes_exactly_and_is_what_ships(tiny_data: Path, tmp_path: Path) -> None:
    """--ema: the average lags the raw generator, survives a resume bit for bit, and is what train.export ships."""
    from train.export import _srgan_checkpoint
    from train.srgan import main as srgan_main

    init = _tiny_generator(tmp_path)
    straight, split = tmp_path / "straight", tmp_path / "split"
    ema = ["--ema", "0.5"]
    srgan_main(srgan_args(tiny_data, init, straight, 6) + ema)
    srgan_main(srgan_args(tiny_data, init, split, 6) + ema + ["--stop-at", "3"])
    srgan_main(srgan_args(tiny_data, init, split, 6) + ema + ["--resume"])
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(split / "last.pt")
    for k in a["model_ema"]:
        torch.testing.assert_close(a["model_ema"][k], b["model_ema"][k], rtol=0, atol=1e-5)
    moved = [k for k in a["model"] if not torch.equal(a["model"][k], a["model_ema"][k])]
    assert moved, "the average equals the raw generator"
    for k in moved:  # between the start and the raw generator, not beyond either
        lo = torch.minimum(a["init_model"][k].float(), a["model"][k].float())
        hi = torch.maximum(a["init_model"][k].float(), a["model"][k].float())
        assert bool(((a["model_ema"][k] >= lo - 1e-4) & (a["model_ema"][k] <= hi + 1e-4)).float().mean() > 0.5)
    shipped, which = _srgan_checkpoint(straight, "last")
    assert "EMA" in which and all(torch.equal(shipped["model"][k], a["model_ema"][k]) for k in a["model_ema"])
    with pytest.raises(SystemExit, match="--ema"):
        srgan_main(srgan_args(tiny_data, init, tmp_path / "bad", 2) + ["--ema", "1.0"])


def test_srgan_export_and_strength_dial(tiny_data: Path, tmp_path: Path, monkeypatch, astronaut) -> None:
    """Exported SRGAN: strength 0 reproduces the PSNR generator, 1 the GAN one, 0.5 lies between."""
    from srcore.methods.torch_sr import run_network
    from srcore.models import EDSR
    from srcore.weights_io import load_state_dict
    from train.export import export_srgan
    from train.srgan import main as srgan_main

    init = _tiny_generator(tmp_path)
    run = tmp_path / "gan"
    srgan_main(srgan_args(tiny_data, init, run, 4))
    assets = tmp_path / "assets"
    export_srgan(run, assets, which="last", bench_root=None)
    monkeypatch.setattr("srcore.weights.ASSETS_DIR", assets)
    from srcore.methods.srgan import srgan_methods

    m = srgan_methods()[0]
    assert m.availability(4), m.availability(4).reason
    img = astronaut[200:216, 200:220]
    outs = {a: m.upscale(img, 4, tile=0, strength=a).astype(int) for a in (0.0, 0.5, 1.0)}

    def ref(state) -> np.ndarray:
        g = EDSR(4, n_blocks=2, n_feats=16).eval()
        g.load_state_dict(state)
        return run_network(g, img, 4, 0, 0, 1.0, torch.device("cpu")).astype(int)

    # exactly: (1 - 0) * theta_psnr + 0 * theta_gan is theta_psnr to the bit, and the same for alpha = 1
    assert np.array_equal(outs[0.0], ref(load_state_dict(init)))
    assert np.array_equal(outs[1.0], ref(load_checkpoint(run / "last.pt")["model"]))
    assert 0 < np.abs(outs[0.5] - outs[0.0]).mean() < np.abs(outs[1.0] - outs[0.0]).mean()


def test_distillation_shards_resume_and_train_a_student(tiny_data: Path, tmp_path: Path) -> None:
    """train.distill_data makes teacher shards (resumable, same data as in one go); train.sr --pairs learns from them."""
    from train.distill_data import main as make

    pairs = tmp_path / "pairs"
    args = ["--data", str(tiny_data), "--out", str(pairs), "--teacher", "realesr-animevideov3", "--backend", "torch",
            "--patches", "6", "--shard", "3", "--lr-patch", "16", "--degrade", "jpeg", "--clean-share", "0.5", "--jpeg-share", "0"]
    make(args)
    first = np.load(pairs / "shard_00001.npz")
    assert first["lr"].shape == (3, 16, 16, 3) and first["teacher"].shape == (3, 64, 64, 3) and first["hr"].shape == (3, 64, 64, 3)
    teacher = first["teacher"].copy()
    (pairs / "shard_00001.npz").unlink()
    make(args)  # resumes: only the missing shard is made, from its own seed -- the same patches
    assert np.array_equal(np.load(pairs / "shard_00001.npz")["teacher"], teacher)
    assert not list(pairs.glob("*.partial*"))
    out = tmp_path / "student"
    train(["--arch", "edsr", "--scale", "4", "--model-config", '{"n_blocks": 2, "n_feats": 16}', "--pairs", str(pairs),
           "--data", str(tiny_data), "--out", str(out), "--iters", "4", "--batch", "2", "--patch", "48", "--warmup", "1",
           "--ckpt-every", "2", "--log-every", "1", "--val-every", "1000", "--device", "cpu"])
    log = (out / "train.log").read_text()
    assert "distillation: 6 teacher pairs" in log and load_checkpoint(out / "last.pt")["step"] == 4
    assert teacher.dtype == np.uint8


def test_srgan_pixel_loss_mse_is_the_squared_error(tiny_data: Path, tmp_path: Path) -> None:
    """--pixel-loss mse (seed 003's Per-Pix: MSE pixel + VGG content) changes the pixel term, and only it."""
    from train.srgan import main as srgan_main

    init = _tiny_generator(tmp_path)
    logs = {}
    for kind in ("l1", "mse"):
        out = tmp_path / kind
        srgan_main(srgan_args(tiny_data, init, out, 3) + ["--pixel-loss", kind, "--pixel-weight", "1", "--log-every", "1"])
        logs[kind] = [float(v) for v in re.findall(r" pixel ([0-9.e+-]+)", (out / "train.log").read_text())]
        assert f"--pixel-loss {kind}" in json.loads((out / "config.json").read_text())["command"]
    # step 3, the first generator step after the 2 warm-up steps of D, sees the same batch and generator in both
    # runs: errors in [0, 1] make the squared error smaller than the absolute one
    assert logs["l1"] and logs["mse"] and 0 < logs["mse"][0] < logs["l1"][0]


def test_srgan_distills_with_unet_discriminator_and_keeps_its_counterpart(tiny_data: Path, tmp_path: Path) -> None:
    """train.srgan --pairs --disc unet: learns from teacher shards, resumes exactly (spectral-norm state included),
    and the exported dial's alpha = 0 is --counterpart, not the GAN --init the run started from."""
    from safetensors.torch import save_file

    from srcore.models import EDSR
    from srcore.weights_io import load_state_dict
    from train.distill_data import main as make
    from train.export import export_srgan
    from train.srgan import main as srgan_main

    pairs = tmp_path / "pairs"
    make(["--data", str(tiny_data), "--out", str(pairs), "--teacher", "realesr-animevideov3", "--backend", "torch",
          "--patches", "4", "--shard", "2", "--lr-patch", "16", "--degrade", "jpeg", "--jpeg-share", "0"])
    init = _tiny_generator(tmp_path)
    torch.manual_seed(1)
    counterpart = tmp_path / "psnr.safetensors"
    save_file(EDSR(4, n_blocks=2, n_feats=16).state_dict(), str(counterpart))
    extra = ["--pairs", str(pairs), "--disc", "unet", "--gan", "vanilla", "--counterpart", str(counterpart)]
    straight, split = tmp_path / "straight", tmp_path / "split"
    srgan_main(srgan_args(tiny_data, init, straight, 6) + extra)
    srgan_main(srgan_args(tiny_data, init, split, 6) + extra + ["--stop-at", "3"])
    srgan_main(srgan_args(tiny_data, init, split, 6) + extra + ["--resume"])
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(split / "last.pt")
    assert a["disc"] == "unet" and any(k.endswith("weight_u") for k in a["discriminator"])
    for part in ("model", "discriminator"):
        for k in a[part]:
            torch.testing.assert_close(a[part][k], b[part][k], rtol=0, atol=1e-5)
    assert "distillation: 4 teacher pairs" in (straight / "train.log").read_text()

    card = json.loads(export_srgan(straight, tmp_path / "assets", which="last", bench_root=None).read_text())
    psnr = load_state_dict(tmp_path / "assets" / card["file"].replace(".safetensors", "_psnr.safetensors"))
    ref = load_state_dict(counterpart)
    assert all(torch.equal(psnr[k], ref[k]) for k in ref)
    t = card["training"]
    assert "U-Net" in t["discriminator"] and t["distilled_from"]["teacher"] == "realesr-animevideov3"
    # --which average: the mean of best's and last's generators (a two-point weight average)
    best = load_checkpoint(straight / "last.pt")
    best["model"] = {k: v + 1.0 if v.is_floating_point() else v for k, v in best["model"].items()}
    best["step"] = 3
    torch.save(best, straight / "best.pt")
    card = json.loads(export_srgan(straight, tmp_path / "avg", which="average", bench_root=None).read_text())
    gan = load_state_dict(tmp_path / "avg" / card["file"])
    assert all(torch.allclose(gan[k], a["model"][k] + 0.5) for k in gan if gan[k].is_floating_point())
    assert card["training"]["exported_checkpoint"] == "average of best (step 3) and last (step 6) generator weights"
    assert t["distilled_from"]["patches"] == 4 and t["distilled_from"]["teacher_seconds"] >= 0  # summed from the log


@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_budget_run_spends_its_minutes_and_ends_its_schedule(tiny_data: Path, tmp_path: Path, clock: str) -> None:
    """``--budget``: stops once the wall minutes are spent, with the cosine at its floor and a last validation there.

    The loss study compares losses at equal CPU time; a schedule over steps would leave a slow loss stopped
    with its learning rate still high. The learning-curve script reads the run's events (x = minutes).
    """
    import runpy

    out = tmp_path / "budget"
    args = base_args(tiny_data, out, "fsrcnn", iters=10**6)
    args[args.index("--lr") + 1] = "1e-3"
    train(args + ["--budget", "0.05", "--budget-clock", clock, "--lr-min", "1e-5", "--val", str(tiny_data), "--val-limit", "2",
                  "--val-every", "7"])
    ck = load_checkpoint(out / "last.pt")
    assert 3.0 <= ck[f"{clock}_time"] < 60.0 and 0 < ck["cpu_time"] and 0 < ck["wall_time"]
    assert ck["scheduler"]["_last_lr"][0] <= 1.2e-5  # the floor, reached by time, not by --iters
    log = (out / "train.log").read_text()
    assert "budget of 0.05 min spent" in log
    last_val = re.findall(r"step (\d+) val PSNR-Y", log)[-1]
    assert int(last_val) == ck["step"]  # measured where the run ended, not at the last multiple of 7
    png, data = tmp_path / "curves.png", tmp_path / "curves.json"
    runpy.run_path(str(REPO / "benchmarks" / "learning_curves.py"), run_name="not_main")["main"](
        [str(out), "--png", str(png), "--json", str(data), "--reference", "bicubic=20.5"])
    assert json.loads(data.read_text())["references"] == {"bicubic": 20.5}
    curve = json.loads(data.read_text())["runs"]["budget"]
    assert curve["x"] == "minutes" and curve["val/psnr_y"][-1][0] <= 0.2
    assert Image.open(png).size[0] > 600


def test_unet_generator_gan_export_and_dial(tiny_data: Path, tmp_path: Path, monkeypatch, astronaut) -> None:
    """A U-Net GAN's route: train.srgan reads a U-Net from the init file's tensors, export keeps the arch,
    and the dial's ends are the two generators exactly."""
    from safetensors.torch import save_file

    from srcore.methods.srgan import SRGAN, STRENGTH
    from srcore.methods.torch_sr import run_network
    from srcore.models import UNet
    from train.export import export_srgan
    from train.srgan import main as srgan_main

    torch.manual_seed(0)
    init = tmp_path / "unet_init.safetensors"
    save_file(UNet(4, n_feats=8).state_dict(), str(init))
    run = tmp_path / "ugan"
    srgan_main(srgan_args(tiny_data, init, run, 3) + ["--disc", "unet"])
    assert load_checkpoint(run / "last.pt")["arch"] == "unet"
    assets = tmp_path / "assets"
    card = json.loads(export_srgan(run, assets, which="last", bench_root=None, name="ugan_x4").read_text())
    assert card["arch"] == "unet" and card["model_config"]["skips"] is True
    monkeypatch.setattr("srcore.weights.ASSETS_DIR", assets)
    m = SRGAN(id="ugan", label="t", scales=(4,), options=(STRENGTH,), receptive_margin=40, gan_asset="ugan_x4", psnr_asset="ugan_x4_psnr")
    img = astronaut[200:216, 200:220]

    def ref(state) -> np.ndarray:
        g = UNet(4, n_feats=8).eval()
        g.load_state_dict(state)
        return run_network(g, img, 4, 0, 0, 1.0, torch.device("cpu")).astype(int)

    from srcore.weights_io import load_state_dict

    assert np.array_equal(m.upscale(img, 4, tile=0, strength=0.0).astype(int), ref(load_state_dict(init)))
    assert np.array_equal(m.upscale(img, 4, tile=0, strength=1.0).astype(int), ref(load_checkpoint(run / "last.pt")["model"]))


def test_generator_architecture_read_from_weights(tmp_path: Path) -> None:
    from srcore.models import build_model, config_from_state_dict

    for arch, cfg in (("edsr", {"n_blocks": 3, "n_feats": 16}), ("unet", {"n_feats": 8}), ("autoencoder", {"n_feats": 8}),
                      ("rrdb", {"num_block": 2, "num_feat": 16, "num_grow": 8})):
        got_arch, got = config_from_state_dict(build_model(arch, 4, **cfg).state_dict())
        assert got_arch == arch and got["scale"] == 4 and all(got[k] == v for k, v in cfg.items())
    with pytest.raises(ValueError, match="not an EDSR, RRDBNet or U-Net"):
        config_from_state_dict({"conv.weight": torch.zeros(1)})


def test_he_init_keeps_the_autoencoders_signal_alive() -> None:
    """``--model-config '{"init": "he"}'``: the plain stack's bottleneck keeps the input's scale (PyTorch's default
    init lets it fade ~3x per layer, and the study's autoencoder then stayed at bicubic); the choice is recorded."""
    from srcore.models import build_model

    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32)
    spread = {}
    for init in ("default", "he"):
        m = build_model("autoencoder", 4, init=init)
        seen = {}
        for name in ("enc0", "mid"):
            getattr(m, name).register_forward_hook(lambda _m, _i, out, name=name, seen=seen: seen.__setitem__(name, float(out.detach().std())))
        with torch.no_grad():
            m(x)
        spread[init] = seen["mid"] / seen["enc0"]
        assert build_model("autoencoder", 4, **m.config).config == m.config
    assert spread["default"] < 0.5 < spread["he"], spread
    assert build_model("autoencoder", 4, init="he").config["init"] == "he" and "init" not in build_model("unet", 4).config
    with pytest.raises(ValueError, match="init must be"):
        build_model("unet", 4, init="xavier")


def test_bf16_on_a_cpu_that_emulates_it_is_warned_about() -> None:
    """--amp bf16 copied from an AMX machine runs ~10x slower on an AVX2-only CPU: the run log says so."""
    plain = CpuInfo("AVX2 CPU", 2, 256, 2.5, bf16=False)
    amx = CpuInfo("AMX CPU", 2, 512, 2.5, bf16=True)
    bf16 = Runtime(torch.device("cpu"), amp_dtype=torch.bfloat16)
    note = bf16_note(bf16, plain)
    assert note is not None and "AVX2 CPU" in note and "--amp" in note
    assert bf16_note(bf16, amx) is None
    assert bf16_note(Runtime(torch.device("cpu")), plain) is None  # fp32: nothing to say
    assert bf16_note(Runtime(torch.device("cpu"), amp_dtype=torch.float16), plain) is None
    assert (bf16_note(bf16, cpu_info()) is None) == cpu_info().bf16  # this machine's flags are read


def test_a_deeper_edsr_starts_as_the_shallower_one_and_can_learn(tmp_path: Path) -> None:
    """--init with fewer blocks than --model-config asks: the same outputs at step 0, and the new blocks train."""
    import logging

    from safetensors.torch import save_file

    from srcore.models.edsr import EDSR, deepen_edsr_state
    from train.sr import init_from

    torch.manual_seed(0)
    small = EDSR(4, n_blocks=2, n_feats=16)
    for p in small.parameters():  # not the zero-ish defaults: every tensor matters
        p.data.add_(torch.randn_like(p) * 0.05)
    save_file(small.state_dict(), tmp_path / "small.safetensors")
    deep = EDSR(4, n_blocks=5, n_feats=16)
    init_from(deep, tmp_path / "small.safetensors", logging.getLogger("test"))
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        assert torch.equal(small(x), deep(x))
    assert torch.count_nonzero(deep.body[3].body[0].weight) > 0  # the new block's first conv is live
    loss = (deep(x) - 0.5).abs().mean()
    loss.backward()
    assert deep.body[3].body[2].weight.grad.abs().sum() > 0  # and its zero conv gets a gradient
    with pytest.raises(ValueError, match="more blocks"):
        deepen_edsr_state(deep.state_dict(), small.state_dict())
    with pytest.raises(ValueError, match="width"):
        deepen_edsr_state(small.state_dict(), EDSR(4, n_blocks=5, n_feats=8).state_dict())


def test_an_rrdb_student_beside_an_edsr_counterpart_exports_a_dial_that_blends_outputs(
        tiny_data: Path, tmp_path: Path, astronaut) -> None:
    """real-gan's shape since issue 21: an RRDBNet GAN whose alpha = 0 is an EDSR (real-edsr). train.srgan accepts the
    pair, export writes both files with their own architectures, and the method's dial is each network at its ends
    and the mean of their outputs at 0.5."""
    from safetensors.torch import save_file

    from srcore.methods.srgan import OutputBlend, dial_network
    from srcore.methods.torch_sr import run_network
    from srcore.models import EDSR, RRDBNet
    from srcore.weights_io import load_state_dict
    from train.export import export_srgan
    from train.srgan import main as srgan_main

    torch.manual_seed(0)
    init, counterpart = tmp_path / "rrdb.safetensors", tmp_path / "edsr.safetensors"
    save_file(RRDBNet(num_block=1, num_feat=16, num_grow=8).state_dict(), str(init))
    save_file(EDSR(4, n_blocks=2, n_feats=16).state_dict(), str(counterpart))
    out = tmp_path / "run"
    srgan_main(srgan_args(tiny_data, init, out, 4) + ["--disc", "unet", "--gan", "vanilla", "--counterpart", str(counterpart)])
    assert "differ in architecture (edsr / rrdb): the dial blends their outputs" in (out / "train.log").read_text()
    card = json.loads(export_srgan(out, tmp_path / "assets", which="last", bench_root=None, name="real_gan_x4",
                                   counterpart=counterpart).read_text())
    psnr_card = json.loads((tmp_path / "assets" / "real_gan_x4_psnr.json").read_text())
    assert card["arch"] == "rrdb" and psnr_card["arch"] == "edsr"
    gan, psnr = load_state_dict(tmp_path / "assets" / card["file"]), load_state_dict(tmp_path / "assets" / psnr_card["file"])
    lr = astronaut[:24, :24]
    ends = [run_network(dial_network(psnr, gan, a), lr, 4, 0, 0, 1.0, torch.device("cpu")) for a in (0.0, 0.5, 1.0)]
    edsr = EDSR(4, n_blocks=2, n_feats=16).eval()
    edsr.load_state_dict(load_state_dict(counterpart))
    assert np.array_equal(ends[0], run_network(edsr, lr, 4, 0, 0, 1.0, torch.device("cpu")))
    half = dial_network(psnr, gan, 0.5)
    assert isinstance(half, OutputBlend)
    x = torch.from_numpy(lr.copy()).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():  # before rounding and clipping to 8 bits, the blend is the outputs' mean
        torch.testing.assert_close(half(x), (half.psnr(x) + half.gan(x)) / 2)
    assert not np.array_equal(ends[1], ends[2])


def test_a_gan_is_seated_on_a_deeper_counterpart_with_its_dial_intact(tiny_data: Path, tmp_path: Path) -> None:
    """A retrained, deeper real-edsr must not orphan real-gan: ``train.deepen_gan`` re-seats the shipped GAN
    (alpha 1 the old GAN exactly, alpha 0 the counterpart, the card saying so), and ``train.srgan`` starts a
    run from a shallower GAN on a deeper --counterpart the same way."""
    from safetensors.torch import save_file

    from srcore.methods.srgan import blend_states
    from srcore.models.edsr import EDSR
    from srcore.weights_io import load_state_dict
    from train.deepen_gan import deepen_gan
    from train.srgan import main as srgan_main

    torch.manual_seed(0)
    gan, deep_psnr = EDSR(4, n_blocks=2, n_feats=16), EDSR(4, n_blocks=5, n_feats=16)
    for net in (gan, deep_psnr):
        for p in net.parameters():
            p.data.add_(torch.randn_like(p) * 0.05)
    assets = tmp_path / "assets"
    assets.mkdir()
    save_file(gan.state_dict(), assets / "g_x4.safetensors")
    save_file(deep_psnr.state_dict(), assets / "p_x4.safetensors")
    (assets / "g_x4.json").write_text(json.dumps({"name": "g_x4", "file": "g_x4.safetensors", "training": {"iterations": 7},
                                                  "metrics": {"Set5": {"psnr_y": 1.0}}}))
    card = json.loads(deepen_gan("g_x4", assets / "p_x4.safetensors", assets, bench_root=None).read_text())
    assert card["model_config"]["n_blocks"] == 5 and card["training"]["iterations"] == 7  # its own training record kept
    assert card["training"]["deepened"]["from_blocks"] == 2 and "metrics" not in card  # stale numbers dropped
    psnr_card = json.loads((assets / "g_x4_psnr.json").read_text())
    assert psnr_card["file"] == "p_x4.safetensors"  # the counterpart's own file, not a copy
    seated = load_state_dict(assets / "g_x4.safetensors")
    x = torch.rand(1, 3, 12, 10)
    net = EDSR(4, n_blocks=5, n_feats=16).eval()
    with torch.no_grad():
        net.load_state_dict(blend_states(deep_psnr.state_dict(), seated, 1.0))
        torch.testing.assert_close(net(x), gan.eval()(x), rtol=0, atol=1e-6)
        net.load_state_dict(blend_states(deep_psnr.state_dict(), seated, 0.0))
        torch.testing.assert_close(net(x), deep_psnr.eval()(x), rtol=0, atol=1e-6)
    retrained = EDSR(4, n_blocks=5, n_feats=16)  # the counterpart retrained at the same depth: a re-seat, not a deepening
    save_file(retrained.state_dict(), assets / "p2_x4.safetensors")
    before = (assets / "g_x4.safetensors").read_bytes()
    card = json.loads(deepen_gan("g_x4", assets / "p2_x4.safetensors", assets, bench_root=None).read_text())
    assert (assets / "g_x4.safetensors").read_bytes() == before  # alpha 1 untouched
    assert card["training"]["deepened"]["from_blocks"] == 2  # the earlier deepening stays on record
    assert card["training"]["reseated"]["counterpart"].endswith("p2_x4.safetensors")
    assert json.loads((assets / "g_x4_psnr.json").read_text())["file"] == "p2_x4.safetensors"
    save_file(EDSR(4, n_blocks=1, n_feats=16).state_dict(), tmp_path / "shallow.safetensors")
    with pytest.raises(SystemExit, match="cannot be seated"):  # the GAN (now 5 blocks) deeper than this counterpart
        deepen_gan("g_x4", tmp_path / "shallow.safetensors", assets, bench_root=None)

    save_file(gan.state_dict(), tmp_path / "g2.safetensors")
    run = tmp_path / "run"
    srgan_main(srgan_args(tiny_data, tmp_path / "g2.safetensors", run, 2) + ["--counterpart", str(assets / "p_x4.safetensors")])
    ck = load_checkpoint(run / "last.pt")
    assert len({k.split(".")[1] for k in ck["model"] if k.startswith("body.") and ".body." in k}) == 5
    assert "deepened" in (run / "train.log").read_text()
