"""Seat a shipped strength-dial GAN on a deeper (or same-depth) retrained PSNR counterpart, without retraining the GAN.

    python -m train.deepen_gan real_gan_x4 --counterpart assets/real_edsr_x4.safetensors

Why: ``real-gan``'s dial blends its weights with ``real-edsr``'s tensor by tensor, so when ``real-edsr`` is
deepened and retrained (issue 21: 16 -> 24 residual blocks) the GAN must have the same layout or the dial
breaks. :func:`srcore.models.edsr.deepen_to_counterpart` gives it that layout with alpha = 1 computing the
previous GAN exactly; this writes the weights, keeps the card's training record (the GAN's own training did
not change), says what was done under ``training.deepened``, re-points ``NAME_psnr`` at the counterpart and
re-measures every strength through the files as shipped.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from srcore.atomic import atomic_write
from srcore.models import build_model, config_from_state_dict
from srcore.models.edsr import deepen_to_counterpart
from srcore.paths import REPO_ROOT
from srcore.weights_io import load_state_dict, sha256_file
from train.export import DEFAULT_BENCH, file_card, measure_strengths, reuse_identical, save_safetensors


def deepen_gan(name: str, counterpart: Path, to: Path, bench_root: Path | None = DEFAULT_BENCH,
               datasets: tuple[str, ...] = ("Set5", "Set14"), strengths: tuple[float, ...] = (0.0, 0.5, 1.0)) -> Path:
    """Rewrite ``to/NAME.safetensors`` and its card (and ``NAME_psnr``'s) for ``counterpart``; return the card path."""
    card_path = to / f"{name}.json"
    if not card_path.is_file():
        raise SystemExit(f"{card_path} not found: deepen_gan re-seats a shipped GAN")
    card = json.loads(card_path.read_text())
    gan_file = to / card["file"]
    gan, psnr = load_state_dict(gan_file), load_state_dict(counterpart)
    archs = {config_from_state_dict(s)[0] for s in (gan, psnr)}
    if archs != {"edsr"}:
        raise SystemExit(f"deepen_gan deepens EDSR bodies only, not {sorted(archs)}")
    before = {"sha256": sha256_file(gan_file), "n_blocks": config_from_state_dict(gan)[1]["n_blocks"]}
    try:
        deep = deepen_to_counterpart(gan, psnr)
    except ValueError as exc:
        raise SystemExit(f"{gan_file} cannot be seated on {counterpart}: {exc}") from None
    arch, cfg = config_from_state_dict(psnr)
    model = build_model(arch, 4, **cfg)
    model.load_state_dict(deep)
    out = to / f"{name}.safetensors"
    save_safetensors(model, out)
    psnr_model = build_model(arch, 4, **cfg)
    psnr_model.load_state_dict(psnr)
    psnr_path = to / f"{name}_psnr.safetensors"
    save_safetensors(psnr_model, psnr_path)
    psnr_path = reuse_identical(psnr_path)
    new = {**card, **file_card(name, arch, out, model)}
    where = (str(counterpart.resolve().relative_to(REPO_ROOT)) if counterpart.resolve().is_relative_to(REPO_ROOT)
             else str(counterpart))
    command = f"python -m train.deepen_gan {name} --counterpart {counterpart}"
    if before["n_blocks"] == cfg["n_blocks"]:
        # same depth: a retrained counterpart only; the GAN's file is unchanged and an earlier deepening stays on record
        new["training"] = {**card["training"], "reseated": {
            "counterpart": where, "counterpart_sha256": sha256_file(counterpart),
            "how": "the counterpart retrained at the same depth: the GAN's weights unchanged (alpha 1 identical), "
                   "alpha < 1 now blends with the new counterpart",
            "command": command,
        }}
    else:
        new["training"] = {**card["training"], "deepened": {
            "from_blocks": before["n_blocks"], "to_blocks": cfg["n_blocks"], "previous_sha256": before["sha256"],
            "counterpart": where, "counterpart_sha256": sha256_file(counterpart),
            "how": "srcore.models.edsr.deepen_to_counterpart: the GAN's blocks kept, each new block the counterpart's first "
                   "conv and a zero second conv, so alpha 1 computes the previous GAN exactly; no further GAN training",
            "command": command,
        }}
    psnr_card = {**file_card(f"{name}_psnr", arch, psnr_path, psnr_model),
                 "training": {"kind": "PSNR network the strength dial blends with (alpha = 0)", "init_file": str(counterpart)}}
    if bench_root is not None and bench_root.is_dir():
        by_strength = measure_strengths(arch, cfg, psnr, deep, to, bench_root, datasets, strengths)
        new["metrics"] = by_strength.get("1.0", {})
        new["metrics_by_strength"] = by_strength
    else:  # the old numbers describe other weights
        new.pop("metrics", None)
        new.pop("metrics_by_strength", None)
    atomic_write(to / f"{name}_psnr.json", json.dumps(psnr_card, indent=2) + "\n")
    atomic_write(card_path, json.dumps(new, indent=2) + "\n")
    return card_path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m train.deepen_gan", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="the GAN's card name in --to, e.g. real_gan_x4")
    p.add_argument("--counterpart", type=Path, required=True, help="the deeper PSNR network the dial now blends with")
    p.add_argument("--to", type=Path, default=REPO_ROOT / "assets", help="the folder holding the GAN and its card (default: assets/)")
    p.add_argument("--bench", type=Path, default=DEFAULT_BENCH, help="benchmark root with Set5/Set14 (measured into the card)")
    p.add_argument("--no-bench", action="store_true", help="do not measure")
    args = p.parse_args(argv)
    card = deepen_gan(args.name, args.counterpart, args.to, None if args.no_bench else args.bench)
    print(f"wrote {card}")


if __name__ == "__main__":
    main()
