"""Fine-tune one of our PSNR-trained generators (EDSR, or the U-Net for ``unet-gan``) into a GAN: content + adversarial (+ pixel) loss.

CPU (this machine):
    python -m train.srgan --init assets/edsr_x4.safetensors --data ../shared/data/train \
        --val ../shared/data/benchmark/Set14/x4 --out runs/srgan_x4 --content st-vgg16 --amp bf16
GPU, several cards:
    torchrun --nproc_per_node=4 -m train.srgan --init assets/edsr_x4.safetensors ... --content vgg19
Resume: the same command plus ``--resume`` (both networks, both optimisers, schedules, RNG, step).
Distillation: ``--pairs DIR`` trains on ``train.distill_data`` shards, every loss (and D's "real") against
the teacher's outputs; ``--disc unet`` is Real-ESRGAN's spectral-norm U-Net discriminator.

The best checkpoint is chosen by validation LPIPS (ST-LPIPS-alex offline), while PSNR-Y and
SSIM-Y are logged next to it so the perception-distortion trade-off stays visible.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from srcore.degrade import Degradation
from srcore.lpips import get_lpips
from srcore.models import build_model, config_from_state_dict
from srcore.models.edsr import deepen_to_counterpart
from srcore.scoring import aggregate, score
from srcore.weights_io import load_state_dict
from train.common import (
    WallClock,
    add_run_args,
    atomic_save,
    ema_update,
    load_checkpoint,
    record_run,
    rng_state,
    set_rng_state,
    start_run,
    teardown_runtime,
)
from train.data import PatchSampler, ShardSampler, load_validation
from train.discriminator import DISCRIMINATORS
from train.losses import (
    CONTENT_CHOICES,
    adversarial_losses,
    build_content_loss,
    chroma_l1,
    detail_excess_l1,
    lattice_excess_l1,
    phase_bias_l1,
)
from train.sr import lr_lambda


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train.srgan", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--init", type=Path, required=True, help="PSNR-trained x4 generator, EDSR or U-Net (.safetensors or a train.sr run's .pt); its architecture is read from the weights")
    p.add_argument("--counterpart", type=Path,
                   help="the PSNR network the --strength dial blends with (default: --init); lets a run start from an "
                        "earlier GAN while alpha = 0 stays that PSNR network exactly")
    p.add_argument("--iters", type=int, default=20000)
    p.add_argument("--lr", type=float, default=1e-4, help="generator learning rate")
    p.add_argument("--d-lr", type=float, default=1e-4, help="discriminator learning rate")
    p.add_argument("--content", choices=CONTENT_CHOICES, default="st-vgg16")
    p.add_argument("--content-weight", type=float, default=1.0)
    p.add_argument("--adv-weight", type=float, default=1e-3)
    p.add_argument("--pixel-weight", type=float, default=1e-2, help="pixel term (keeps colours and PSNR anchored)")
    p.add_argument("--pixel-loss", choices=["l1", "mse"], default="l1",
                   help="the pixel term: l1 (default), or mse -- with a VGG content loss, seed 003's 'Per-Pix' combination")
    p.add_argument("--chroma-weight", type=float, default=25.0,
                   help="L1 on the Cb/Cr planes: stops the GAN painting colour speckle (0 = off)")
    p.add_argument("--phase-weight", type=float, default=100.0,
                   help="L1 on the per-phase mean error of the 4x4 pixel-shuffle grid: keeps checkerboards out (0 = off)")
    p.add_argument("--detail-weight", type=float, default=0.0,
                   help="L1 on fine luma detail beyond the target's, per 8x8 block: keeps painted gratings (hatching) out (0 = off)")
    p.add_argument("--lattice-weight", type=float, default=0.0,
                   help="L1 on the output's spectral peaks at the 4-px lattice beyond the target's: keeps an edge-following "
                        "pixel-shuffle zipper out (0 = off)")
    p.add_argument("--gan", choices=["vanilla", "ragan"], default="ragan")
    p.add_argument("--disc", choices=sorted(DISCRIMINATORS), default="vgg",
                   help="vgg: SRGAN's global VGG-style D; unet: Real-ESRGAN's per-pixel U-Net D with spectral norm")
    p.add_argument("--d-width", type=int, default=64, help="discriminator base width (paper: 64)")
    p.add_argument("--pairs", type=Path, help="train on train.distill_data shards (LR + a teacher's outputs) instead of "
                   "degrading --data on the fly")
    p.add_argument("--pairs-target", choices=["teacher", "hr"], default="teacher",
                   help="with --pairs: the target of every loss and D's real images")
    p.add_argument("--d-warmup", type=int, default=200, help="steps training only D before G gets adversarial gradients")
    p.add_argument("--ema", type=float, default=0.0,
                   help="keep an exponential moving average of G's weights with this decay (Real-ESRGAN: 0.999; 0.99-0.995 "
                        "suits runs of a few thousand steps): validated, chosen as best and exported instead of the raw G (0 = off)")
    p.add_argument("--reset-best", action="store_true",
                   help="with --resume: choose best.pt afresh (when the resumed run changes the loss, old scores no longer compare)")
    p.add_argument("--image-every", type=int, default=500, help="TensorBoard sample grid every N steps")
    add_run_args(p, batch=8, val_every=500, ckpt_every=100, log_every=20)
    return p.parse_args(argv)


def load_generator_init(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".pt":
        return load_checkpoint(path)["model"]
    return load_state_dict(path)


@torch.inference_mode()
def validate(g: nn.Module, pairs, lpips_fn, device: torch.device, lpips_vgg=None) -> dict[str, float]:
    """PSNR-Y / SSIM-Y / LPIPS (the selection metric), NIQE and, when given, a second LPIPS on VGG to watch.

    NIQE is logged because LPIPS alone let the hatching of our first real-world GAN through: the two
    disagree exactly where a texture is plausible to a network but not natural in its statistics.
    """
    g.eval()
    fns = {"lpips": lpips_fn, **({"lpips_vgg": lpips_vgg} if lpips_vgg is not None else {})}
    scores = []
    for hr, lr in pairs:
        x = torch.from_numpy(np.array(lr)).permute(2, 0, 1)[None].float().div(255).to(device)
        sr = g(x).clamp(0, 1)[0].permute(1, 2, 0).mul(255).round().byte().cpu().numpy()
        scores.append(score(sr, 4, hr=hr, lpips_fns=fns, metrics=("psnr_y", "ssim_y", "niqe", *fns)))
    g.train()
    return aggregate(scores).values  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rt, log = start_run(args)

    init_state = load_generator_init(args.init)
    psnr_state = load_generator_init(args.counterpart) if args.counterpart else init_state
    if init_state.keys() != psnr_state.keys():
        try:
            archs = {config_from_state_dict(s)[0] for s in (init_state, psnr_state)}
        except ValueError as exc:
            raise SystemExit(f"{args.init} or {args.counterpart}: {exc}") from None
        if archs == {"edsr"}:
            # an EDSR GAN started on a deeper counterpart (a retrained real-edsr): seated there, alpha 1 unchanged
            try:
                init_state = deepen_to_counterpart(init_state, psnr_state)
            except ValueError as exc:
                raise SystemExit(f"{args.init} and {args.counterpart} cannot be aligned: {exc}") from None
            log.info(f"deepened {args.init} to the depth of {args.counterpart}: new blocks take its first conv, a zero second")
        else:  # e.g. an RRDBNet student cut from its teacher beside real-edsr's EDSR (srcore.methods.srgan.dial_network)
            log.info(f"{args.init} and {args.counterpart} differ in architecture ({' / '.join(sorted(archs))}): the dial blends their outputs")

    try:
        g_arch, g_cfg = config_from_state_dict(init_state)
    except ValueError as exc:
        raise SystemExit(f"{args.init}: {exc}") from None
    if g_cfg["scale"] != 4:
        raise SystemExit(f"{args.init} is an x{g_cfg['scale']} generator; SRGAN here is x4")
    g = build_model(g_arch, 4, **g_cfg).to(rt.device)
    g.load_state_dict(init_state)
    if not 0.0 <= args.ema < 1.0:
        raise SystemExit(f"--ema must be in [0, 1), got {args.ema}")
    # The GAN's generator oscillates from one validation to the next (our distillation runs: val LPIPS 0.48 to 0.54
    # and back within 500 steps); the average of its recent weights is the steadier network to judge and ship.
    g_ema = copy.deepcopy(g).requires_grad_(False) if args.ema else None
    d = DISCRIMINATORS[args.disc](args.d_width).to(rt.device)
    if args.channels_last:
        g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
    content = build_content_loss(args.content).to(rt.device)
    opt_g = torch.optim.Adam([p for p in g.parameters() if p.requires_grad], lr=args.lr, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(d.parameters(), lr=args.d_lr, betas=(0.9, 0.99))
    floor = args.lr_min / args.lr
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, lr_lambda(0, args.iters, floor))
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, lr_lambda(0, args.iters, floor))
    if args.pairs:
        sampler = ShardSampler(args.pairs, 4, args.patch, args.seed + 1000 * rt.rank, args.pairs_target)
        log.info(f"distillation: {sampler.size} {args.pairs_target} pairs in {args.pairs} (more are read as they appear)")
    else:
        sampler = PatchSampler(args.data, 4, args.patch, False, args.seed + 1000 * rt.rank,
                               args.degrade, args.clean_share, args.jpeg_share, args.usm_target)

    step, best, clock_prev = 0, float("inf"), 0.0
    ckpt_path = args.out / "last.pt"
    resumed = args.resume and ckpt_path.exists()
    if resumed:
        ck = load_checkpoint(ckpt_path, rt.device)
        g.load_state_dict(ck["model"])
        if g_ema is not None:  # a run that turns EMA on when resumed starts the average at the current G
            g_ema.load_state_dict(ck.get("model_ema", ck["model"]))
        d.load_state_dict(ck["discriminator"])
        opt_g.load_state_dict(ck["optimizer"])
        opt_d.load_state_dict(ck["optimizer_d"])
        sched_g.load_state_dict(ck["scheduler"])
        sched_d.load_state_dict(ck["scheduler_d"])
        step, best, clock_prev = ck["step"], ck["best_lpips"], ck["wall_time"]
        set_rng_state(ck["rng"])
        sampler.set_state(ck["sampler"])
        if args.reset_best:
            best = float("inf")
        log.info(f"resumed from {ckpt_path} at step {step}" + (" (best checkpoint chosen afresh)" if args.reset_best else ""))

    g_train, d_train = rt.wrap(g), rt.wrap(d, sync_batchnorm=True)

    writer, val_pairs, lpips_fn, lpips_vgg = None, [], None, None
    if rt.is_main:
        from torch.utils.tensorboard import SummaryWriter  # lazy: tensorboard is slow to import, main rank only

        writer = SummaryWriter(str(args.out / "tb"))
        record_run(args, "train.srgan", argv, g.config, resumed)
        if args.val:
            val_pairs = load_validation(args.val, 4, args.val_limit, Degradation(args.val_degrade))
            lpips_fn, lpips_vgg = get_lpips("alex"), get_lpips("vgg")
        log.info(f"SRGAN: G {sum(p.numel() for p in g.parameters()) / 1e6:.2f} M, D {sum(p.numel() for p in d.parameters()) / 1e6:.2f} M, "
                 f"content {args.content}, gan {args.gan}, device {rt.device}, amp {rt.amp_dtype}, world {rt.world_size}")

    clock = WallClock(clock_prev)
    scaler = rt.grad_scaler()

    def save(path: Path) -> None:
        atomic_save({
            "model": g.state_dict(), "discriminator": d.state_dict(), "init_model": psnr_state,
            **({"model_ema": g_ema.state_dict(), "ema": args.ema} if g_ema is not None else {}),
            "optimizer": opt_g.state_dict(), "optimizer_d": opt_d.state_dict(),
            "scheduler": sched_g.state_dict(), "scheduler_d": sched_d.state_dict(),
            "step": step, "best_lpips": best, "wall_time": clock.total(), "rng": rng_state(), "sampler": sampler.state(),
            "arch": g_arch, "kind": "srgan", "disc": args.disc, "scale": 4, "model_config": g.config, "device": str(rt.device),
            "data": [str(x) for x in args.data],
        }, path)

    stop_at = min(args.iters, args.stop_at or args.iters)
    bar = tqdm(total=args.iters, initial=step, disable=not rt.is_main, dynamic_ncols=True, mininterval=5)
    sums: dict[str, float] = {}
    t_start = t_last = time.monotonic()
    g.train()
    d.train()
    while step < stop_at:
        if args.time_limit and time.monotonic() - t_start > args.time_limit * 60:
            log.info(f"time limit of {args.time_limit} min reached at step {step}")
            break
        lr_b, hr_b = (t.to(rt.device) for t in sampler.batch(args.batch))
        adv_on = step >= args.d_warmup

        # --- generator
        with rt.autocast():
            sr = g_train(lr_b)
        sr = sr.float()
        g_loss = torch.zeros((), device=rt.device)
        if adv_on:
            for p in d.parameters():
                p.requires_grad_(False)
            with rt.autocast():
                c_loss = content(sr, hr_b) * args.content_weight
                d_fake = d_train(sr).float()
                d_real = d_train(hr_b).float().detach()
            _, adv = adversarial_losses(d_real, d_fake, args.gan)
            pixel_fn = nn.functional.mse_loss if args.pixel_loss == "mse" else nn.functional.l1_loss
            pix = pixel_fn(sr, hr_b) * args.pixel_weight
            chroma = chroma_l1(sr, hr_b) * args.chroma_weight if args.chroma_weight else torch.zeros((), device=rt.device)
            phase = phase_bias_l1(sr, hr_b) * args.phase_weight if args.phase_weight else torch.zeros((), device=rt.device)
            detail = detail_excess_l1(sr, hr_b) * args.detail_weight if args.detail_weight else torch.zeros((), device=rt.device)
            lattice = lattice_excess_l1(sr, hr_b) * args.lattice_weight if args.lattice_weight else torch.zeros((), device=rt.device)
            g_loss = c_loss.float() + adv * args.adv_weight + pix + chroma + phase + detail + lattice
            opt_g.zero_grad(set_to_none=True)
            scaler.scale(g_loss).backward()
            scaler.step(opt_g)
            if g_ema is not None:
                ema_update(g_ema, g, args.ema)
            for p in d.parameters():
                p.requires_grad_(True)
            sums["content"] = sums.get("content", 0.0) + float(c_loss.detach())
            sums["adv"] = sums.get("adv", 0.0) + float(adv.detach())
            sums["pixel"] = sums.get("pixel", 0.0) + float(pix.detach())
            sums["chroma"] = sums.get("chroma", 0.0) + float(chroma.detach())
            sums["phase"] = sums.get("phase", 0.0) + float(phase.detach())
            for name, term, weight in (("detail", detail, args.detail_weight), ("lattice", lattice, args.lattice_weight)):
                if weight:
                    sums[name] = sums.get(name, 0.0) + float(term.detach())

        # --- discriminator
        with rt.autocast():
            d_real = d_train(hr_b).float()
            d_fake = d_train(sr.detach()).float()
        d_loss, _ = adversarial_losses(d_real, d_fake, args.gan)
        opt_d.zero_grad(set_to_none=True)
        scaler.scale(d_loss).backward()
        scaler.step(opt_d)
        scaler.update()
        if adv_on:
            sched_g.step()
        sched_d.step()
        step += 1
        bar.update(1)
        sums["d_loss"] = sums.get("d_loss", 0.0) + float(d_loss.detach())
        sums["d_real"] = sums.get("d_real", 0.0) + float(torch.sigmoid(d_real.detach()).mean())
        sums["d_fake"] = sums.get("d_fake", 0.0) + float(torch.sigmoid(d_fake.detach()).mean())
        sums["n"] = sums.get("n", 0.0) + 1

        if rt.is_main and step % args.log_every == 0:
            n = sums.pop("n")
            avg = {k: v / n for k, v in sums.items()}
            sums.clear()
            for k, v in avg.items():
                writer.add_scalar(f"train/{k}", v, step)
            dt = time.monotonic() - t_last
            t_last = time.monotonic()
            log.info(f"step {step} " + " ".join(f"{k} {v:.4f}" for k, v in avg.items()) + f" {args.log_every / dt * 60:.0f} it/min")
        if rt.is_main and step % args.image_every == 0:
            grid = torch.cat([nn.functional.interpolate(lr_b[:4], scale_factor=4, mode="nearest"), sr[:4].detach().clamp(0, 1), hr_b[:4]], 0)
            from torchvision.utils import make_grid  # lazy: only when image samples are logged

            writer.add_image("samples/lr_sr_hr", make_grid(grid, nrow=min(4, lr_b.shape[0])), step)
        if rt.is_main and val_pairs and (step % args.val_every == 0 or step == stop_at):
            m = validate(g_ema if g_ema is not None else g, val_pairs, lpips_fn, rt.device, lpips_vgg)
            for k, v in m.items():
                if v is not None:  # NIQE is undefined below 96 px: no scalar rather than a crash
                    writer.add_scalar(f"val/{k}", v, step)
            niqe_text = "n/a" if m.get("niqe") is None else f"{m['niqe']:.3f}"
            log.info(f"step {step} val PSNR-Y {m['psnr_y']:.3f} SSIM-Y {m['ssim_y']:.4f} NIQE {niqe_text} {lpips_fn.variant} {m['lpips']:.4f} "
                     f"{lpips_vgg.variant} {m.get('lpips_vgg', float('nan')):.4f} (best {min(best, m['lpips']):.4f})")
            if m["lpips"] < best:
                best = m["lpips"]
                save(args.out / "best.pt")
        if rt.is_main and (step % args.ckpt_every == 0 or step == stop_at):
            save(ckpt_path)
    if rt.is_main:
        save(ckpt_path)
        if not val_pairs:
            save(args.out / "best.pt")
        bar.close()
        writer.close()
        log.info(f"stopped at step {step}, {clock.total() / 60:.1f} min wall, best val LPIPS {best:.4f}")
    teardown_runtime(rt)



if __name__ == "__main__":
    main()
