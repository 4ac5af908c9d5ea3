"""Judge GAN training checkpoints the way the shipped-quality tests judge a shipped GAN, before exporting any.

    python benchmarks/gan_checkpoints.py runs/unet_gan_l300d200/best.pt runs/unet_gan/best.pt ... \
        --counterpart assets/unet_x4.safetensors --json docs/unet_gan_recipes.json
    python benchmarks/gan_checkpoints.py runs/real_gan_kd2/last.pt --counterpart assets/real_edsr_x4.safetensors \
        --degrade jpeg --degrade realistic --json docs/real_gan_runs.json

Why: a recipe search makes many checkpoints and ``train.export`` measures only the one it ships. This reads each
``train.srgan`` checkpoint's generator (or a ``.safetensors`` file), blends it with ``--counterpart`` at
``--strength`` exactly as the method's dial does, and scores it on Set14 x4 - the MATLAB-made LR files, or with
``--degrade jpeg|realistic`` (repeatable) HR degraded as ``bench --degrade`` and ``tests/test_shipped_real.py`` do
(JPEG Q ``--jpeg-quality``, realistic seed 0): the artefact checks of the shipped-quality tests - the hatching index
(:mod:`srcore.hatching`, ceiling :data:`srcore.hatching.CEILING`), the 4-px lattice-peak ratio (:mod:`srcore.periodic`,
bar 8 x the ground truth's) and the 32-px block-grid ratio (:mod:`srcore.blockiness`) - next to PSNR-Y, ST-LPIPS-alex
and NIQE. Every figure is the dataset mean; lower is better except PSNR-Y.
``--append`` keeps the rows already in the JSON (a search measured over several calls).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from srcore.atomic import atomic_write  # noqa: E402
from srcore.backends import cpu_info  # noqa: E402
from srcore.bench import load_dataset  # noqa: E402
from srcore.blockiness import grid_ratio  # noqa: E402
from srcore.degrade import DEFAULT_JPEG_QUALITY, DEGRADATIONS, Degradation  # noqa: E402
from srcore.hatching import CEILING, hatching_index  # noqa: E402
from srcore.lpips import get_lpips  # noqa: E402
from srcore.methods.srgan import dial_network  # noqa: E402
from srcore.methods.torch_sr import run_network  # noqa: E402
from srcore.metrics import psnr_y  # noqa: E402
from srcore.periodic import periodic_peak_ratio  # noqa: E402
from srcore.scoring import score  # noqa: E402
from srcore.weights_io import load_state_dict  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmark" / "Set14" / "x4"


def generator_state(path: Path) -> tuple[dict[str, Any], int | None]:
    """The generator weights of a checkpoint (``.pt``: train.srgan's, with its step; its EMA when it has one) or a
    weight file."""
    if path.suffix == ".pt":
        from train.common import load_checkpoint  # train/ is optional for srcore users; only .pt inputs need it

        ck = load_checkpoint(path)
        return ck.get("model_ema", ck["model"]), int(ck["step"])  # an --ema run is judged (and shipped) by its average
    return load_state_dict(path), None


def measure(path: Path, counterpart: Path, strength: float, data: Path, degradation: Degradation) -> dict[str, Any]:
    gan, step = generator_state(path)
    net = dial_network(load_state_dict(counterpart), gan, strength)
    lpips = get_lpips("alex")
    rows = []
    for item in load_dataset(data, 4, degradation=degradation):
        out = run_network(net, item.lr, 4, 0, 0, 1.0, "cpu")
        rows.append((psnr_y(out, item.hr, 4), lpips(out, item.hr), float(score(out, 4, metrics=["niqe"])["niqe"]),
                     hatching_index(out), periodic_peak_ratio(out), grid_ratio(out, 32)))
    means = [float(np.mean(c)) for c in zip(*rows, strict=True)]
    return {"checkpoint": str(path), "step": step, "strength": strength, "counterpart": str(counterpart), "lr": degradation.label,
            **{k: round(v, n) for k, v, n in zip(("psnr_y", "lpips", "niqe", "hatching", "lattice_peak", "grid_32px"), means,
                                                  (3, 4, 3, 4, 2, 3), strict=True)}}


def previous_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of an earlier call, each with the counterpart and CPU it was measured with.

    Why per row: ``--append`` gathers calls with different counterparts on different machines, so a
    document-level field would relabel the old rows; files written before rows carried them get theirs here.
    """
    doc = json.loads(path.read_text())
    return [{"counterpart": doc.get("counterpart"), "cpu": doc.get("cpu"), **r} for r in doc["rows"]]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--counterpart", type=Path, required=True, help="the PSNR network the dial blends with (alpha 0)")
    p.add_argument("--strength", type=float, default=1.0)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--degrade", choices=DEGRADATIONS, action="append",
                   help="make the LR from HR like bench --degrade (repeatable; default: the LR/ files)")
    p.add_argument("--jpeg-quality", type=int, default=DEFAULT_JPEG_QUALITY)
    p.add_argument("--json", type=Path)
    p.add_argument("--append", action="store_true", help="keep the rows already in --json")
    args = p.parse_args(argv)
    for path in [*args.checkpoints, args.counterpart]:
        if not path.is_file():
            raise SystemExit(f"{path} not found")
    if not (args.data / "HR").is_dir():
        raise SystemExit(f"benchmark folder {args.data} (with HR/ and LR/) not found")
    hr_lattice = float(np.mean([periodic_peak_ratio(it.hr) for it in load_dataset(args.data, 4)]))
    degradations = [Degradation(d, 0, args.jpeg_quality) for d in (args.degrade or ["bicubic"])]
    rows = []
    for path in args.checkpoints:
        for degradation in degradations:
            rows.append(measure(path, args.counterpart, args.strength, args.data, degradation))
            r = rows[-1]
            print(f"{path}  step {r['step']}  {r['lr']}  PSNR-Y {r['psnr_y']:.2f}  LPIPS {r['lpips']:.4f}  NIQE {r['niqe']:.2f}  "
                  f"hatching {r['hatching']:.4f}  lattice-peak {r['lattice_peak']:.2f}  grid {r['grid_32px']:.3f}")
    if args.json:
        old = previous_rows(args.json) if args.append and args.json.is_file() else []
        cpu = cpu_info().describe()
        doc = {"data": str(args.data), "scale": 4,
               "lpips_variant": "ST-LPIPS-alex", "hatching_ceiling": CEILING, "lattice_peak_ground_truth": round(hr_lattice, 3),
               "lattice_peak_bar": round(8 * hr_lattice, 2), "convention": f"{args.data.parent.name} x4 means; PSNR-Y on BT.601 Y, 4 px shaved",
               "rows": old + [{**r, "cpu": cpu} for r in rows]}
        atomic_write(args.json, json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
