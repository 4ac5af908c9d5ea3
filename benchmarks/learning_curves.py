"""Learning curves of several training runs in one picture: validation PSNR-Y / SSIM-Y against wall minutes.

Why minutes, not steps: the loss study (README, "Which loss?") compares losses at an equal time budget
(``train.sr --budget``), and a VGG feature loss takes ~3x the time of a pixel loss per step; on a
step axis the cheap losses would look slow. The minutes are each run's budget clock (``val/minutes``):
wall time, or CPU time for ``--budget-clock cpu``. Runs logged before ``val/minutes`` existed fall back to
steps (the x label says so).

    python benchmarks/learning_curves.py runs/study_unet_mse runs/study_unet_hfen_l1 ... \
        --png docs/loss_study_curves.png --json docs/loss_study_curves.json

The JSON holds every plotted point, so the picture can be checked (and re-drawn) without the runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TAGS = (("val/psnr_y", "Set5 x4 PSNR-Y (dB) ↑"), ("val/ssim_y", "Set5 x4 SSIM-Y ↑"))


def read_scalars(run: Path) -> dict[str, dict[int, float]]:
    """Every scalar of a run's TensorBoard events (``run/tb``), by tag then step; a resumed run's later value wins."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # lazy: slow import

    tb = run / "tb"
    if not tb.is_dir():
        raise SystemExit(f"{run}: no TensorBoard folder {tb}")
    out: dict[str, dict[int, float]] = {}
    for events in sorted(tb.glob("events.out.tfevents.*")):  # one file per invocation (resumes add files)
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            out.setdefault(tag, {}).update({e.step: float(e.value) for e in acc.Scalars(tag)})
    return out


def curves(runs: list[Path]) -> dict[str, dict[str, list[list[float]]]]:
    """{run name: {tag: [[x, value], ...]}} with x in minutes where the run logged them, else steps."""
    result = {}
    for run in runs:
        s = read_scalars(run)
        minutes = s.get("val/minutes", {})
        entry: dict[str, list[list[float]]] = {}
        for tag, _ in TAGS:
            points = sorted(s.get(tag, {}).items())
            entry[tag] = [[round(minutes.get(step, step), 3) if minutes else step, round(v, 4)] for step, v in points]
        entry["x"] = "minutes" if minutes else "steps"  # type: ignore[assignment]
        result[run.name] = entry
    return result


def plot(data: dict, png: Path, title: str, references: dict[str, float] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: a file
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(TAGS), figsize=(6 * len(TAGS), 4.2), dpi=110)
    for ax, (tag, label) in zip(axes, TAGS, strict=True):
        for name, entry in data.items():
            pts = entry[tag]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", linewidth=1.4, label=name)
        if tag == TAGS[0][0]:
            for name, value in (references or {}).items():  # e.g. bicubic's PSNR-Y: what "learned nothing" looks like
                ax.axhline(value, color="grey", linestyle="--", linewidth=1)
                ax.annotate(name, (0, value), textcoords="offset points", xytext=(4, 3), fontsize=8, color="grey")
        xs = {e["x"] for e in data.values()}
        ax.set_xlabel("minutes of training (each run's budget clock)" if xs == {"minutes"} else "minutes (or steps, runs without val/minutes)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", type=Path, nargs="+", help="train.sr / train.srgan run folders")
    p.add_argument("--png", type=Path, required=True)
    p.add_argument("--json", type=Path, help="also write the plotted points here")
    p.add_argument("--title", default="Loss study: validation during training (equal time budget)")
    p.add_argument("--reference", action="append", default=[], metavar="NAME=PSNR",
                   help="a dashed PSNR-Y line, e.g. bicubic=28.634 (repeatable)")
    args = p.parse_args(argv)
    data = curves(args.runs)
    try:
        references = {name: float(v) for name, _, v in (r.partition("=") for r in args.reference)}
    except ValueError:
        p.error("--reference wants NAME=PSNR, e.g. bicubic=28.634")
    plot(data, args.png, args.title, references)
    if args.json:
        args.json.write_text(json.dumps({"title": args.title, "references": references, "runs": data}, indent=1) + "\n")
    for name, entry in data.items():
        last = entry["val/psnr_y"][-1] if entry["val/psnr_y"] else None
        print(f"{name}: {len(entry['val/psnr_y'])} validations, last {last} ({entry['x']})")


if __name__ == "__main__":
    main()
