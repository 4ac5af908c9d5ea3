"""Train a feed-forward SR network (EDSR, ESPCN, FSRCNN, U-Net, autoencoder) - one readable loop.

CPU (this machine):
    python -m train.sr --arch edsr --scale 4 --data ../shared/data/train \
        --val ../shared/data/benchmark/Set5/x4 --out runs/edsr_x4 --amp bf16
GPU, several cards:
    torchrun --nproc_per_node=4 -m train.sr --arch edsr --scale 4 ... --out runs/edsr_x4
Resume after an interruption: the same command plus ``--resume``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from srcore.degrade import Degradation
from srcore.models import ARCHS, LUMA_ARCHS, build_model
from srcore.models.edsr import EDSR, deepen_edsr_state, edsr_config_from_state_dict
from srcore.models.luma import luma_upscale
from srcore.scoring import aggregate, score
from srcore.weights_io import load_state_dict
from train.common import (
    CpuClock,
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
    unwrap,
)
from train.data import PatchSampler, ShardSampler, load_validation
from train.losses import SR_LOSSES, SRLoss, parse_loss_spec


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train.sr", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", required=True, choices=sorted(ARCHS))
    p.add_argument("--scale", type=int, required=True, choices=[2, 3, 4])
    p.add_argument("--model-config", default="{}", help='JSON overrides of the architecture, e.g. \'{"n_blocks": 8}\'')
    p.add_argument("--iters", type=int, default=20000, help="total optimiser steps (the schedule spans these)")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--warmup", type=int, default=200, help="linear warm-up steps")
    p.add_argument("--loss", default="l1", help=f"one of {', '.join(SR_LOSSES)}, or a weighted sum: 'ssim+l1', 'perceptual:1,l1:0.1'")
    p.add_argument("--init", type=Path, help="initialise weights from this file (e.g. x2 weights for x4; mismatched layers are skipped; "
                                          "an EDSR with fewer blocks than --model-config's is deepened, new blocks starting as identities)")
    p.add_argument("--pairs", type=Path, help="train on train.distill_data shards (LR + a teacher's outputs) instead of "
                                             "patches made from --data: knowledge distillation")
    p.add_argument("--pairs-target", choices=["teacher", "hr"], default="teacher", help="with --pairs: what the network learns to produce")
    p.add_argument("--budget", type=float, help="train for this many minutes in all (resumes included), the LR schedule "
                                                "spanning the budget instead of --iters: equal-time comparisons")
    p.add_argument("--budget-clock", choices=["wall", "cpu"], default="wall",
                   help="what --budget counts: wall minutes, or this process's CPU minutes (fair when cores are shared)")
    p.add_argument("--ema", type=float, default=0.0,
                   help="keep an exponential moving average of the weights with this decay (0.999 for a fine-tune of a "
                        "few thousand steps): validated, chosen as best and exported instead of the raw weights (0 = off)")
    add_run_args(p, batch=16, val_every=1000, ckpt_every=250, log_every=50)
    args = p.parse_args(argv)
    if not 0.0 <= args.ema < 1.0:
        p.error(f"--ema must be in [0, 1), got {args.ema}")
    if args.budget is not None and args.budget <= 0:
        p.error("--budget must be a positive number of minutes")
    try:
        parse_loss_spec(args.loss)
    except ValueError as exc:
        p.error(str(exc))
    return args


def lr_lambda(warmup: int, total: int, floor: float, progress=None):
    """Linear warm-up then cosine decay to ``floor`` (a fraction of the peak).

    The cosine runs over steps ``warmup..total``, or, when ``progress`` is given, over the fraction of a
    time budget it returns: runs that compare losses at equal CPU time then all end their schedule at
    the budget, however many steps their loss lets them take.
    """

    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = progress() if progress else (step - warmup) / max(1, total - warmup)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    return f


@torch.inference_mode()
def validate(model: nn.Module, arch: str, pairs: list[tuple[np.ndarray, np.ndarray]], scale: int, device: torch.device) -> dict[str, float]:
    """PSNR-Y/SSIM-Y on the validation pairs, through the same pipeline inference uses."""
    model.eval()
    scores = []
    for hr, lr in pairs:
        if arch in LUMA_ARCHS:
            sr = luma_upscale(model, lr, scale, device)
        else:
            x = torch.from_numpy(np.array(lr)).permute(2, 0, 1)[None].float().div(255).to(device)
            sr = model(x).clamp(0, 1)[0].permute(1, 2, 0).mul(255).round().byte().cpu().numpy()
        scores.append(score(sr, scale, hr=hr, metrics=("psnr_y", "ssim_y")))
    model.train()
    return aggregate(scores).values  # type: ignore[return-value]  # PSNR/SSIM always exist


def init_from(model: nn.Module, path: Path, log) -> None:
    """Take every tensor of ``path`` that fits ``model``; a shallower EDSR is deepened function-preservingly."""
    src = load_state_dict(path)
    own = model.state_dict()
    if isinstance(model, EDSR) and "head.0.weight" in src:
        have, want = edsr_config_from_state_dict(src)["n_blocks"], model.config["n_blocks"]
        if have < want:
            src = deepen_edsr_state(src, own)
            log.info(f"deepened {path} from {have} to {want} residual blocks: the new ones start as identities")
    taken = {k: v for k, v in src.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(taken, strict=False)
    log.info(f"initialised {len(taken)}/{len(own)} tensors from {path}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rt, log = start_run(args)

    model = build_model(args.arch, args.scale, **json.loads(args.model_config)).to(rt.device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr, betas=(0.9, 0.99))
    clock, cpu = WallClock(0.0), CpuClock(0.0)
    budget_clock = cpu if args.budget_clock == "cpu" else clock
    budget_s = args.budget * 60 if args.budget else None
    progress = (lambda: budget_clock.total() / budget_s) if budget_s else None
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(args.warmup, args.iters, args.lr_min / args.lr, progress))
    sampler: PatchSampler | ShardSampler
    if args.pairs:
        sampler = ShardSampler(args.pairs, args.scale, args.patch, args.seed + 1000 * rt.rank, args.pairs_target)
        log.info(f"distillation: {sampler.size} {args.pairs_target} pairs in {args.pairs} (more are read as they appear)")
    else:
        sampler = PatchSampler(args.data, args.scale, args.patch, args.arch in LUMA_ARCHS, args.seed + 1000 * rt.rank,
                               args.degrade, args.clean_share, args.jpeg_share, args.usm_target)

    step, best, clock_prev, cpu_prev = 0, -1.0, 0.0, 0.0
    ckpt_path = args.out / "last.pt"
    resumed = args.resume and ckpt_path.exists()
    if resumed:
        ck = load_checkpoint(ckpt_path, rt.device)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        step, best, clock_prev, cpu_prev = ck["step"], ck["best_psnr"], ck["wall_time"], ck.get("cpu_time", 0.0)
        set_rng_state(ck["rng"])
        sampler.set_state(ck["sampler"])
        log.info(f"resumed from {ckpt_path} at step {step}")
    elif args.resume:
        log.info(f"--resume given but {ckpt_path} does not exist: starting fresh")
    elif args.init:
        init_from(model, args.init, log)
    ema = copy.deepcopy(model).requires_grad_(False) if args.ema else None
    if ema is not None and resumed:  # a run that turns EMA on when resumed starts the average at the current weights
        ema.load_state_dict(ck.get("model_ema", ck["model"]))

    train_model = rt.wrap(model)
    val_pairs = load_validation(args.val, args.scale, args.val_limit, Degradation(args.val_degrade)) if (args.val and rt.is_main) else []
    writer = None
    if rt.is_main:
        from torch.utils.tensorboard import SummaryWriter  # lazy: tensorboard is slow to import, main rank only

        writer = SummaryWriter(str(args.out / "tb"))
        record_run(args, "train.sr", argv, unwrap(model).config, resumed)
        n_params = sum(p.numel() for p in model.parameters())
        log.info(f"{args.arch} x{args.scale}: {n_params / 1e6:.3f} M params, device {rt.device}, amp {rt.amp_dtype}, world {rt.world_size}")

    scaler = rt.grad_scaler()
    loss_fn = SRLoss(args.loss, rt.autocast).to(rt.device)
    for c, prev in ((clock, clock_prev), (cpu, cpu_prev)):
        c.previous, c.start = prev, c.now()

    def save(path: Path) -> None:
        atomic_save(
            {
                "model": unwrap(model).state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "step": step,
                "best_psnr": best,
                "wall_time": clock.total(),
                "cpu_time": cpu.total(),
                "rng": rng_state(),
                "sampler": sampler.state(),
                "arch": args.arch,
                "scale": args.scale,
                "model_config": unwrap(model).config,
                "device": str(rt.device),
                "data": [str(d) for d in args.data],
                **({"model_ema": ema.state_dict(), "ema": args.ema} if ema is not None else {}),
            },
            path,
        )

    def run_validation() -> None:
        nonlocal best
        m = validate(ema if ema is not None else model, args.arch, val_pairs, args.scale, rt.device)
        writer.add_scalar("val/psnr_y", m["psnr_y"], step)
        writer.add_scalar("val/ssim_y", m["ssim_y"], step)
        writer.add_scalar("val/minutes", budget_clock.total() / 60, step)  # x axis of equal-time learning curves
        log.info(f"step {step} val PSNR-Y {m['psnr_y']:.3f} SSIM-Y {m['ssim_y']:.4f} (best {max(best, m['psnr_y']):.3f})")
        if m["psnr_y"] > best:
            best = m["psnr_y"]
            save(args.out / "best.pt")

    model.train()
    bar = tqdm(total=args.iters, initial=step, disable=not rt.is_main, dynamic_ncols=True, mininterval=5)
    running, t_last, t_start = 0.0, time.monotonic(), time.monotonic()
    stop_at = min(args.iters, args.stop_at or args.iters)
    while step < stop_at:
        if args.time_limit and time.monotonic() - t_start > args.time_limit * 60:
            log.info(f"time limit of {args.time_limit} min reached at step {step}")
            break
        if budget_s and budget_clock.total() >= budget_s:
            log.info(f"budget of {args.budget} min spent at step {step}")
            break
        lr_b, hr_b = sampler.batch(args.batch)
        lr_b, hr_b = lr_b.to(rt.device, non_blocking=True), hr_b.to(rt.device, non_blocking=True)
        if args.channels_last:
            lr_b = lr_b.to(memory_format=torch.channels_last)
        with rt.autocast():
            sr = train_model(lr_b)
        loss = loss_fn(sr.float(), hr_b)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if ema is not None:
            ema_update(ema, unwrap(model), args.ema)
        sched.step()
        step += 1
        running += loss.item()
        bar.update(1)
        if rt.is_main and step % args.log_every == 0:
            dt = time.monotonic() - t_last
            t_last = time.monotonic()
            avg = running / args.log_every
            running = 0.0
            writer.add_scalar("train/loss", avg, step)
            writer.add_scalar("train/lr", sched.get_last_lr()[0], step)
            log.info(f"step {step} loss {avg:.5f} lr {sched.get_last_lr()[0]:.2e} {args.log_every / dt * 60:.0f} it/min")
        if rt.is_main and val_pairs and (step % args.val_every == 0 or step == args.iters):
            run_validation()
        if rt.is_main and (step % args.ckpt_every == 0 or step == stop_at):
            save(ckpt_path)
    if rt.is_main and val_pairs and budget_s and budget_clock.total() >= budget_s and step % args.val_every:
        run_validation()  # a budgeted run ends between validations: measure where it ended
    if rt.is_main:
        save(ckpt_path)  # also after a stop by time or budget: the checkpoint holds the clocks at the very end
    bar.close()
    if rt.is_main:
        if not val_pairs:
            save(args.out / "best.pt")
        writer.close()
        log.info(f"done: {step} steps, {clock.total() / 60:.1f} min wall, {cpu.total() / 60:.1f} min CPU, best val PSNR-Y {best:.3f}")
    teardown_runtime(rt)


if __name__ == "__main__":
    main()
