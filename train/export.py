"""Ship a training run: weights into ``assets/`` plus a JSON model card with measured numbers.

    python -m train.export runs/edsr_x4 --to assets/
    python -m train.export runs/espcn_x4 --to assets/        # also writes espcn_x4.pb for cv2.dnn_superres

ESPCN/FSRCNN become TensorFlow ``.pb`` graphs (what OpenCV ``dnn_superres`` reads); EDSR and
the SRGAN generator become ``.safetensors`` (no pickle). The card records architecture, scale,
parameter count, training data, iterations, wall time, device and the command, and the
Set5/Set14 PSNR-Y / SSIM-Y / LPIPS of the *exported file* measured through the same code path
the method uses at run time - so the card can't describe a different model from the shipped one.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from safetensors.torch import save_file
from torch import nn

from srcore.atomic import atomic_path, atomic_write
from srcore.bench import load_dataset
from srcore.lpips import get_lpips
from srcore.methods.srgan import blend_states, dial_network
from srcore.methods.torch_sr import default_device, run_network
from srcore.models import LUMA_ARCHS, build_model, config_from_state_dict
from srcore.paths import REPO_ROOT
from srcore.pb2onnx import dnn_superres_file
from srcore.scoring import aggregate, score
from srcore.weights_io import load_state_dict, sha256_file
from train.common import load_checkpoint, run_commands
from train.data import TRAIN_JPEG_RANGE, list_images

DEFAULT_BENCH = REPO_ROOT.parent / "shared" / "data" / "benchmark"


def save_safetensors(model: nn.Module, path: Path) -> None:
    state = {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))


def upscaler_for(arch: str, weights: Path, model: nn.Module, scale: int):
    """A callable ``lr_rgb -> sr_rgb`` that runs the exported file the way the method does."""
    if arch in LUMA_ARCHS:
        sr = cv2.dnn_superres.DnnSuperResImpl_create()
        sr.readModel(str(dnn_superres_file(weights)))  # OpenCV 5.1+: the .pb's ONNX twin
        sr.setModel(arch, scale)
        return lambda lr: np.ascontiguousarray(sr.upsample(np.ascontiguousarray(lr[..., ::-1]))[..., ::-1])

    dev = default_device()
    m = build_model(arch, scale, **model.config).eval().to(dev)
    m.load_state_dict(load_state_dict(weights))
    return lambda lr: run_network(m, lr, scale, 0, 0, 1.0, dev)


#: What a model card records per dataset (besides the LPIPS variants).
CARD_METRICS = ("psnr_y", "ssim_y", "gmsd", "niqe", "lr_psnr")


def measure(fn, bench_root: Path, scale: int, datasets: list[str], vgg: bool = False) -> dict[str, dict[str, Any]]:
    """Mean PSNR-Y / SSIM-Y / LPIPS, GMSD, NIQE, LR-PSNR (and, for perceptual models, LPIPS on VGG too) per dataset.

    Scored and averaged by :mod:`srcore.scoring`, like ``bench``: a metric an image is too small for
    is ``None`` with its reason under ``reasons``, never a KeyError.
    """
    lpips = get_lpips("alex")
    lpips_vgg = get_lpips("vgg") if vgg else None
    out: dict[str, dict[str, Any]] = {}
    for ds in datasets:
        folder = bench_root / ds / f"x{scale}"
        lr_source = "LR = MATLAB bicubic files"
        if not folder.is_dir():
            # no published pairs at this scale (e.g. x3 here): degrade the HR images ourselves
            hr_dirs = sorted((bench_root / ds).glob("x*/HR"))
            if not hr_dirs:
                continue
            folder, lr_source = hr_dirs[0], f"LR made from {hr_dirs[0].parent.name}/HR with our MATLAB-style bicubic"
        fns = {"lpips": lpips, **({"lpips_vgg": lpips_vgg} if lpips_vgg is not None else {})}
        rows = []
        for item in load_dataset(folder, scale):
            t0 = time.perf_counter()
            sr = fn(item.lr)
            secs = time.perf_counter() - t0
            row = score(sr, scale, hr=item.hr, lr=item.lr, lpips_fns=fns, metrics=(*CARD_METRICS, *fns))
            row.values["seconds"] = secs
            rows.append(row)
        mean = aggregate(rows)
        digits = {"psnr_y": 3, "ssim_y": 4, "lpips": 4, "lpips_vgg": 4, "gmsd": 4, "niqe": 3, "lr_psnr": 3}
        vals = {k: (round(v, digits[k]) if v is not None else None) for k, v in mean.values.items() if k in digits}
        out[ds] = {
            **{k: vals[k] for k in ("psnr_y", "ssim_y", "lpips")},
            "lpips_variant": lpips.variant,
            **{k: vals[k] for k in CARD_METRICS if k not in ("psnr_y", "ssim_y")},
            "seconds_per_image_cpu": round(float(mean.values["seconds"] or 0.0), 3),
            "images": len(rows),
            "convention": f"PSNR-Y/SSIM-Y on BT.601 Y (16-235), scale px shaved; {lr_source}",
        }
        if mean.reasons:
            out[ds]["reasons"] = mean.reasons
        if lpips_vgg is not None:
            out[ds]["lpips_vgg"] = vals["lpips_vgg"]
            out[ds]["lpips_vgg_variant"] = lpips_vgg.variant
    return out


def export_run(run: Path, to: Path, which: str = "best", name: str | None = None, bench_root: Path | None = DEFAULT_BENCH,
               datasets: tuple[str, ...] = ("Set5", "Set14"), extra_card: dict[str, Any] | None = None) -> Path:
    """Export ``run`` and return the card path."""
    ck_path = run / f"{which}.pt"
    if not ck_path.is_file():
        raise SystemExit(f"{ck_path} not found (has the run validated/checkpointed yet?)")
    ck = load_checkpoint(ck_path)
    last = load_checkpoint(run / "last.pt") if (run / "last.pt").is_file() else ck
    arch, scale = ck["arch"], int(ck["scale"])
    model = build_model(arch, scale, **ck["model_config"])
    model.load_state_dict(ck.get("model_ema", ck["model"]))  # a run with --ema ships the average it validated
    model.eval()
    name = name or f"{arch}_x{scale}"
    to.mkdir(parents=True, exist_ok=True)
    if arch in LUMA_ARCHS:
        from train.tfgraph import export_pb  # lazy: tensorboard's protos, only for the OpenCV .pb archs

        weights = export_pb(model, to / f"{name}.pb")
    else:
        weights = to / f"{name}.safetensors"
        save_safetensors(model, weights)
    config_file = run / "config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    card: dict[str, Any] = {
        "name": name,
        "arch": arch,
        "scale": scale,
        "file": weights.name,
        "sha256": sha256_file(weights),
        "bytes": weights.stat().st_size,
        "params": int(sum(p.numel() for p in model.parameters() if p.requires_grad)),
        "model_config": model.config,
        "input": "full-range Y in [0,1] (OpenCV dnn_superres convention)" if arch in LUMA_ARCHS else "RGB in [0,1]",
        "training": {
            "data": [str(Path(d).name) for d in ck.get("data", [])] or config.get("data"),
            "data_description": describe_training_data(config, ck.get("data") or config.get("data") or []),
            "iterations": int(ck["step"]),
            "iterations_total_run": int(last["step"]),
            "wall_time_s": round(float(ck["wall_time"]), 1),
            "device": ck.get("device", "cpu"),
            "batch": config.get("batch"),
            "hr_patch": config.get("patch"),
            "loss": config.get("loss"),
            "lr": config.get("lr"),
            "amp": config.get("amp"),
            **({"ema_decay": ck["ema"]} if "ema" in ck else {}),  # the shipped weights are that moving average
            **({"budget_min": config["budget"]} if config.get("budget") else {}),  # equal-time runs (the loss study)
            "command": config.get("command") or _command_from_config(config),
            "commands": run_commands(config),
            "exported_checkpoint": which,
        },
    }
    if extra_card:
        card.update(extra_card)
    if bench_root is not None and bench_root.is_dir():
        card["metrics"] = measure(upscaler_for(arch, weights, model, scale), bench_root, scale, list(datasets))
    card_path = to / f"{name}.json"
    atomic_write(card_path, json.dumps(card, indent=2) + "\n")
    return card_path


def export_srgan(run: Path, to: Path, which: str = "best", bench_root: Path | None = DEFAULT_BENCH,
                 datasets: tuple[str, ...] = ("Set5", "Set14"), strengths: tuple[float, ...] = (0.0, 0.5, 1.0),
                 name: str = "srgan_x4", counterpart: Path | None = None) -> Path:
    """Export a train.srgan run: ``NAME`` (GAN generator, default ``srgan_x4``) + ``NAME_psnr`` (the PSNR
    generator it started from - the strength dial interpolates between these two, so they must share their
    origin; ``real_gan_x4_psnr`` is byte-identical to ``real_edsr_x4`` and its card points at that file).

    ``counterpart``: the PSNR network's weight file when it is not the run's own start (a student cut from a
    teacher, dialled against ``real_edsr_x4``); of another architecture, the dial blends the two outputs."""
    psnr_name = f"{name}_psnr"
    ck, which = _srgan_checkpoint(run, which)
    to.mkdir(parents=True, exist_ok=True)
    cfg, arch = ck["model_config"], ck.get("arch", "edsr")  # runs before the U-Net generator were all EDSR
    psnr_state = load_state_dict(counterpart) if counterpart else ck["init_model"]
    psnr_arch, psnr_cfg = config_from_state_dict(psnr_state) if counterpart else (arch, cfg)
    cards = {}
    for card_name, state, a, c in ((psnr_name, psnr_state, psnr_arch, psnr_cfg), (name, ck["model"], arch, cfg)):
        model = build_model(a, 4, **c)
        model.load_state_dict(state)
        path = to / f"{card_name}.safetensors"
        save_safetensors(model, path)
        path = reuse_identical(path)
        cards[card_name] = file_card(card_name, a, path, model)
    config_file = run / "config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    pairs = _teacher_of(Path(config["pairs"])) if config.get("pairs") else None
    if pairs:
        data_text = describe_training_data({**config, "degrade": pairs["degrade"], "clean_share": pairs["clean_share"],
                                            "jpeg_share": pairs["jpeg_share"]}, ck.get("data") or config.get("data") or [])
        data_text = (f"{pairs['patches']} LR patches ({pairs['lr_patch']} px) drawn once by train.distill_data from {data_text}; "
                     f"targets: {pairs['teacher']}'s outputs on them ({config.get('pairs_target', 'teacher')})")
        kind = f"GAN distillation from {pairs['teacher']}, blended with the PSNR network {psnr_name} by the strength dial"
    else:
        data_text = describe_training_data(config, ck.get("data") or config.get("data") or [])
        kind = f"SRGAN fine-tuning of the PSNR-trained generator ({psnr_name})"
    cards[name]["training"] = {
        "kind": kind,
        "data_description": data_text,
        "iterations": int(ck["step"]), "wall_time_s": round(float(ck["wall_time"]), 1), "device": ck.get("device"),
        "content": config.get("content"), "content_weight": config.get("content_weight"), "adv_weight": config.get("adv_weight"),
        "pixel_weight": config.get("pixel_weight"), "gan": config.get("gan"), "d_width": config.get("d_width"),
        "batch": config.get("batch"), "hr_patch": config.get("patch"), "lr": config.get("lr"),
        "chroma_weight": config.get("chroma_weight", 0.0), "phase_weight": config.get("phase_weight", 0.0),
        "detail_weight": config.get("detail_weight", 0.0),
        "lattice_weight": config.get("lattice_weight", 0.0), "ema": config.get("ema", 0.0), "command": config.get("command"),
        "commands": run_commands(config), "exported_checkpoint": which,
        "discriminator": _DISC_DESCRIPTIONS[config.get("disc", "vgg")] + f", width x{config.get('d_width')}",
        "init_file": config.get("init"),
        **({"distilled_from": pairs, "pairs_target": config.get("pairs_target")} if pairs else {}),
    }
    cards[psnr_name]["training"] = {"kind": "PSNR network the strength dial blends with (alpha = 0)",
                                    "init_file": str(counterpart) if counterpart else config.get("counterpart") or config.get("init")}
    if bench_root is not None and bench_root.is_dir():
        by_strength = measure_strengths(arch, cfg, psnr_state, ck["model"], to, bench_root, datasets, strengths)
        cards[name]["metrics"] = by_strength.get("1.0", {})
        cards[name]["metrics_by_strength"] = by_strength
    for card_name, card in cards.items():
        atomic_write(to / f"{card_name}.json", json.dumps(card, indent=2) + "\n")
    return to / f"{name}.json"


def file_card(name: str, arch: str, path: Path, model: nn.Module) -> dict[str, Any]:
    """The head of a dial network's card: what file, which bytes, how big, which architecture."""
    return {"name": name, "arch": arch, "scale": 4, "file": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size,
            "params": int(sum(p.numel() for p in model.parameters() if p.requires_grad)), "model_config": model.config}


def measure_strengths(arch: str, cfg: dict[str, Any], psnr_state: dict, gan_state: dict, to: Path, bench_root: Path,
                      datasets: tuple[str, ...], strengths: tuple[float, ...]) -> dict[str, dict[str, Any]]:
    """The card's ``metrics_by_strength``: each alpha's blend saved to a file and measured through it, as shipped."""
    by_strength = {}
    for a in strengths:
        if psnr_state.keys() != gan_state.keys():  # two architectures: the dial blends outputs, nothing to save as one file
            net, dev = dial_network(psnr_state, gan_state, a).to(default_device()), default_device()
            by_strength[str(a)] = measure(lambda lr, net=net, dev=dev: run_network(net, lr, 4, 0, 0, 1.0, dev), bench_root, 4,
                                          list(datasets), vgg=True)
            continue
        model = build_model(arch, 4, **cfg)
        model.load_state_dict(blend_states(psnr_state, gan_state, a))
        tmp = to / f".strength_{a}.safetensors"
        save_safetensors(model, tmp)
        try:
            by_strength[str(a)] = measure(upscaler_for(arch, tmp, model, 4), bench_root, 4, list(datasets), vgg=True)
        finally:
            tmp.unlink(missing_ok=True)
    return by_strength


def _srgan_checkpoint(run: Path, which: str) -> tuple[dict[str, Any], str]:
    """The checkpoint to export and how the card names it; ``average``: the mean of ``best.pt``'s and ``last.pt``'s generators.

    Why averaging: a GAN's generator oscillates between validations (our distillation run: val LPIPS best at
    step 1500, hatching lowest at the end); the mean of two checkpoints of one run (stochastic weight
    averaging with two points) sits between them on every metric we measured and better than either on some.
    The discriminator and optimiser state are ``last.pt``'s (only the generator is exported).
    """
    names = ("best", "last") if which == "average" else (which,)
    cks = []
    for n in names:
        path = run / f"{n}.pt"
        if not path.is_file():
            raise SystemExit(f"{path} not found")
        cks.append(load_checkpoint(path))
        if cks[-1].get("kind") != "srgan":
            raise SystemExit(f"{run} is not a train.srgan run")
    # a run with --ema ships its moving average of G's weights (what it validated), not the raw G it trained
    cks = [{**ck, "model": ck.get("model_ema", ck["model"])} for ck in cks]
    ema = f" (EMA of G's weights, decay {cks[0]['ema']})" if "ema" in cks[0] else ""
    if which != "average":
        return cks[0], which + ema
    best, last = cks
    model = {k: ((best["model"][k].float() + v.float()) / 2).to(v.dtype) for k, v in last["model"].items()}
    return {**last, "model": model}, f"average of best (step {best['step']}) and last (step {last['step']}) generator weights{ema}"


_DISC_DESCRIPTIONS = {
    "vgg": "SRGAN paper's VGG-style D (8 conv blocks 64->512, BN, LeakyReLU, dense 1024 -> 1)",
    "unet": "Real-ESRGAN's U-Net D with spectral norm (3 stride-2 convs down, bilinear up with skips, per-pixel logits)",
}


def _teacher_of(pairs: Path) -> dict:
    """What the distillation shards say about their teacher (train.distill_data's meta.json)."""
    meta_file = pairs / "meta.json"
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    shards = sorted(pairs.glob("shard_*.npz"))
    log_file = pairs / "log.txt"
    seconds = [float(m) for m in re.findall(r"patches in ([0-9.]+) s", log_file.read_text())] if log_file.is_file() else []
    return {"teacher": meta.get("teacher"), "teacher_seconds": round(sum(seconds), 1), "degrade": meta.get("degrade"),
            "clean_share": meta.get("clean_share"), "jpeg_share": meta.get("jpeg_share"), "lr_patch": meta.get("lr_patch"),
            "shards": len(shards), "patches": len(shards) * int(meta.get("shard", 0))}


def reuse_identical(path: Path) -> Path:
    """If another weight file in the folder has the very same bytes, drop ``path`` and point at that one.

    Why: SRGAN starts from our shipped ``edsr_x4``, so ``srgan_x4_psnr`` is usually byte-identical to
    it; the card then names ``edsr_x4.safetensors`` instead of committing the same 6 MB twice.
    """
    digest = sha256_file(path)
    for other in sorted(path.parent.glob("*.safetensors")):
        if other != path and other.stat().st_size == path.stat().st_size and sha256_file(other) == digest:
            path.unlink()
            return other
    return path


def describe_training_data(config: dict[str, Any], data: list[str]) -> str:
    """The card's one-line account of the training data, from the run's own arguments.

    Why derived: a fixed "291 images, bicubic LR" sentence would describe every future run the
    same way, whatever ``--data`` and ``--degrade`` really were. Counts the images when the
    folders are still there (``list_images``, as training did); runs recorded before ``--degrade``
    existed were bicubic.
    """
    folders = [Path(d) for d in data]
    where = ", ".join(_folder_text(f) for f in folders)
    try:
        images = f"{len(list_images(folders))} images" if folders else "images"
    except SystemExit:  # the folders are not on this machine (exported elsewhere)
        images = "images"
    lo, hi = TRAIN_JPEG_RANGE
    kind = config.get("degrade") or "bicubic"
    lr = {
        "bicubic": "MATLAB-style bicubic",
        "jpeg": f"MATLAB-style bicubic + JPEG (quality {lo}-{hi}), made afresh per patch",
        "realistic": "Real-ESRGAN's second-order degradation (blur, resize, noise, JPEG), made afresh per patch",
    }.get(kind, kind)
    mix = [f"{share:.0%} {what}" for what, share in (("clean bicubic", config.get("clean_share") or 0.0),
                                                     (f"bicubic + JPEG {lo}-{hi}", config.get("jpeg_share") or 0.0)) if share]
    text = f"{images} from {where or 'unrecorded folders'}; LR by {lr}"
    if mix and kind != "bicubic":
        text += f", except {' and '.join(mix)} of the patches"
    if config.get("usm_target"):
        text += "; targets: unsharp-masked HR"
    return text


def _folder_text(folder: Path) -> str:
    """``folder``, naming its sub-folders when it has any (``train (bsd200 + t91)``): the data sets it holds."""
    subs = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    return f"{folder} ({' + '.join(subs)})" if subs else str(folder)


def _command_from_config(config: dict[str, Any]) -> str | None:
    if not config:
        return None
    parts = ["python -m train.sr"]
    for key in ("arch", "scale", "data", "val", "out", "iters", "batch", "patch", "lr", "lr_min", "loss", "amp", "threads"):
        v = config.get(key)
        if v in (None, False, 0) and key != "scale":
            continue
        vals = v if isinstance(v, list) else [v]
        parts.append(f"--{key.replace('_', '-')} " + " ".join(str(x) for x in vals))
    return " ".join(parts)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m train.export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="run folder written by train.sr / train.srgan")
    p.add_argument("--to", type=Path, default=REPO_ROOT / "assets", help="destination folder (default: assets/)")
    p.add_argument("--which", choices=["best", "last", "average"], default="best",
                   help="checkpoint to export (average: train.srgan runs, the mean of best's and last's generator weights)")
    p.add_argument("--name", help="base name of the files (default: ARCH_xSCALE; srgan runs: srgan_x4, e.g. real_gan_x4)")
    p.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help="benchmark root with Set5/Set14 (measured into the card)")
    p.add_argument("--no-bench", action="store_true", help="do not measure (card without metrics)")
    p.add_argument("--counterpart", type=Path,
                   help="train.srgan runs: the PSNR network the dial blends with, when not the run's start (default: the run's)")
    args = p.parse_args(argv)
    bench = None if args.no_bench else args.bench
    ck = load_checkpoint(args.run / f"{'last' if args.which == 'average' else args.which}.pt")
    if args.which == "average" and ck.get("kind") != "srgan":
        raise SystemExit("--which average is for train.srgan runs")
    if ck.get("kind") == "srgan":
        card = export_srgan(args.run, args.to, args.which, bench, name=args.name or "srgan_x4",
                            counterpart=args.counterpart)
    else:
        card = export_run(args.run, args.to, args.which, args.name, bench)
    data = json.loads(card.read_text())
    print(f"wrote {args.to / data['file']} and {card}")
    for ds, m in data.get("metrics", {}).items():
        print(f"  {ds}: PSNR-Y {m['psnr_y']:.2f}  SSIM-Y {m['ssim_y']:.4f}  {m['lpips_variant']} {m['lpips']:.4f}")


if __name__ == "__main__":
    main()
