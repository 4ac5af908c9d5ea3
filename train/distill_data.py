"""Teacher targets for knowledge distillation: degraded LR patches and what a reference network makes of them.

Why precomputed: the teacher (Real-ESRGAN x4plus, 16.7 M parameters) costs ~0.1-0.3 s per 32x32 LR
patch on two CPU cores -- far more than a student step -- so its outputs are made once, in shards,
and every training run reads them. The LR patches come from the same sampler (and degradation mix)
as ``train.sr``'s, so a student trained on them sees the inputs it will meet.

Shards are ``OUT/shard_00000.npz`` with uint8 ``lr`` (N, p, p, 3), ``teacher`` and ``hr`` (N, 4p, 4p, 3),
written atomically; shard *k* is drawn from seed ``(seed, k)``, so a rerun resumes after the last
complete shard and makes the same data it would have made in one go.

    python -m train.distill_data --data ../shared/data/train --out runs/distill_pairs --patches 8192
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from srcore.atomic import atomic_path
from srcore.registry import get_method
from train.data import PatchSampler


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train.distill_data", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, nargs="+", required=True, help="HR image folders")
    p.add_argument("--out", type=Path, required=True, help="folder for the shards")
    p.add_argument("--teacher", default="realesrgan-x4plus", help="method id of the teacher (x4)")
    p.add_argument("--backend", default="openvino", help="backend the teacher runs on; the fastest depends on the CPU (docs/speed_reference_x4.json: ncnn ~2x OpenVINO on an AVX2 EPYC, OpenVINO ~3.5x ncnn on an AMX Xeon)")
    p.add_argument("--patches", type=int, default=8192, help="total LR patches to make")
    p.add_argument("--lr-patch", type=int, default=32, help="LR patch side (HR/teacher side = 4x)")
    p.add_argument("--shard", type=int, default=128, help="patches per shard file")
    p.add_argument("--degrade", default="realistic", choices=["bicubic", "jpeg", "realistic"])
    p.add_argument("--clean-share", type=float, default=0.2)
    p.add_argument("--jpeg-share", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--time-limit", type=float, help="stop after the shard that passes this many minutes")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    teacher = get_method(args.teacher)
    if not teacher.availability(4):
        raise SystemExit(f"teacher {args.teacher}: {teacher.availability(4).reason}")
    meta = {k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if isinstance(v, list) else v) for k, v in vars(args).items()}
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2))
    sampler = PatchSampler(args.data, 4, 4 * args.lr_patch, False, args.seed, args.degrade, args.clean_share, args.jpeg_share)
    n_shards = -(-args.patches // args.shard)
    start, spent = time.time(), 0.0
    log = (args.out / "log.txt").open("a")
    for k in range(n_shards):
        target = args.out / f"shard_{k:05d}.npz"
        if target.exists():
            continue
        sampler.rng = np.random.default_rng((args.seed, k))
        t0 = time.time()
        lrs, hrs, outs = [], [], []
        for _ in range(args.shard):
            lr, hr = sampler._one()
            lr = np.ascontiguousarray(lr)
            outs.append(teacher.upscale(lr, 4, tile=0, backend=args.backend))
            lrs.append(lr)
            hrs.append(np.ascontiguousarray(hr))
        with atomic_path(target) as tmp, open(tmp, "wb") as f:
            np.savez(f, lr=np.stack(lrs), teacher=np.stack(outs), hr=np.stack(hrs))
        spent = time.time() - t0
        line = f"shard {k + 1}/{n_shards}: {args.shard} patches in {spent:.1f} s ({spent / args.shard:.3f} s/patch)"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()
        if args.time_limit and time.time() - start > args.time_limit * 60:
            break


if __name__ == "__main__":
    main()
