"""``python -m srcore``: list methods, upscale files/folders, compare methods, benchmark, download.

Errors a user can fix (bad file, unknown method, unsupported scale, missing model) exit with
code 2 and one line on stderr - never a traceback.

Imports of the commands' modules sit inside the commands on purpose: ``python -m srcore --help``
and a mistyped flag answer in ~0.02 s instead of the ~1.5 s that torch, OpenCV and PyAV cost.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from srcore.errors import SRError

EXIT_USAGE = 2


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def print_table(headers: list[str], rows: list[list[str]], file: Any = None) -> None:
    file = file or sys.stdout
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)), file=file)
    print("  ".join("-" * w for w in widths), file=file)
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)), file=file)


def _ids(text: str | None) -> list[str]:
    """``-m a,b@0.5``: the ids/specs in order (srcore.specs' one parser; ``@α`` is validated when each runs)."""
    from srcore.specs import split_ids

    return split_ids(text)


def _options(args: argparse.Namespace, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Method options from the flags (``--strength``, Real-CUGAN's ``--denoise``/``--pro``), for every chosen id;
    :func:`srcore.compare.method_options` later keeps, per method, only the ones it takes."""
    opts: dict[str, Any] = {}
    if getattr(args, "strength", None) is not None:
        if not 0.0 <= args.strength <= 1.0:
            raise SRError(f"--strength must be between 0 and 1, got {args.strength}")
        opts["strength"] = args.strength
    if getattr(args, "denoise", None) is not None:
        opts["denoise"] = float(args.denoise)
    if getattr(args, "pro", False):
        opts["pro"] = 1.0
    return {i: dict(opts) for i in ids} if opts else {}


def _add_run_args(s: argparse.ArgumentParser, degrade_what: str, outscale: bool) -> None:
    """The flags every command that runs methods shares (compare, bench, video): one definition, one help text."""
    s.add_argument("--tile", type=int, default=None)
    s.add_argument("--strength", type=float, default=None, help="srgan strength (0..1)")
    _add_cugan_args(s)
    _add_degrade_args(s, degrade_what)
    _add_backend_arg(s)
    _add_tta_arg(s)
    if outscale:
        _add_outscale_args(s)


def _add_cugan_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--denoise", type=int, choices=[-1, 0, 1, 2, 3], default=None,
                   help="realcugan: denoise level, -1 conservative (default), 0 none, 1-3 stronger (x3/x4 and pro: -1, 0, 3)")
    s.add_argument("--pro", action="store_true", help="realcugan: the 'pro' models (x2, x3) instead of 'se'")


def _degradation(args: argparse.Namespace) -> Any:
    """The ``--degrade/--seed/--jpeg-quality`` choice as a :class:`srcore.degrade.Degradation` (None = default)."""
    from srcore.degrade import DEFAULT_JPEG_QUALITY, Degradation

    if args.degrade is None:
        if args.seed is not None or args.jpeg_quality is not None:
            raise SRError("--seed/--jpeg-quality need --degrade jpeg|realistic")
        return None
    try:
        return Degradation(args.degrade, args.seed or 0, args.jpeg_quality if args.jpeg_quality is not None else DEFAULT_JPEG_QUALITY)
    except ValueError as exc:
        raise SRError(f"--degrade: {exc}") from exc


def _metric_columns(keys: tuple[str, ...], lpips_variant: str | None) -> list[tuple[str, str, int]]:
    """(key, heading with the better direction, digits) for the metric columns of a table."""
    from srcore.scoring import METRICS

    digits = {"psnr_y": 2, "lr_psnr": 2, "ssim_y": 4, "lpips": 4, "gmsd": 4, "niqe": 3}
    heading = {k: METRICS[k].heading for k in keys}
    if "lpips" in heading and lpips_variant:
        heading["lpips"] = f"{lpips_variant} ↓"
    return [(k, heading[k], digits.get(k, 3)) for k in keys]


def _add_degrade_args(s: argparse.ArgumentParser, what: str) -> None:
    from srcore.degrade import DEGRADATIONS

    s.add_argument("--degrade", choices=DEGRADATIONS, default=None,
                   help=f"how LR is made from {what} (default bicubic = MATLAB imresize); jpeg: bicubic then JPEG; "
                        "realistic: Real-ESRGAN-style second-order pipeline")
    s.add_argument("--seed", type=int, default=None, help="seed of the realistic degradation (default 0)")
    s.add_argument("--jpeg-quality", type=int, default=None, help="JPEG quality of --degrade jpeg (default 50)")


def _add_ray_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run on a Ray cluster: no ADDRESS = a local Ray instance, 'auto' = the cluster this node belongs to, "
                        "ray://host:10001 = a remote one (input/output paths must be visible on every node)")
    s.add_argument("--workers", type=int, default=None, help="--ray: worker processes (default: one per CPU of the cluster)")
    s.add_argument("--worker-cpus", type=float, default=None, help="--ray: CPUs reserved per worker (its torch threads; default 1)")
    s.add_argument("--ship-code", action="store_true",
                   help="--ray: upload this checkout's srcore/ and assets/ to the workers (when the nodes do not have SR Lab installed)")


def _add_outscale_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--outscale", type=float, default=None,
                   help="output scale (any float, e.g. 3.5): the network runs at -s, then a high-quality resize "
                        "(area down, Lanczos up); reference mode makes the LR 1/F of the input and scores at F")
    s.add_argument("--width", type=int, default=None, help="output width in px (upscale mode; height follows unless --height)")
    s.add_argument("--height", type=int, default=None, help="output height in px (upscale mode; width follows unless --width)")


def _output_size(args: argparse.Namespace) -> Any:
    """``--outscale/--width/--height`` as a :class:`srcore.outscale.OutputSize`, None for the native size."""
    from srcore.outscale import from_args

    return from_args(args.outscale, args.width, args.height)


def _add_tta_arg(s: argparse.ArgumentParser) -> None:
    s.add_argument("--tta", action="store_true",
                   help="test-time augmentation: each network method runs on the 8 flips/rotations of the input and the "
                        "outputs are averaged (x8 self-ensemble, EDSR+; ~8x the time; interpolation methods unchanged)")


def _add_backend_arg(s: argparse.ArgumentParser) -> None:
    from srcore.backends import BACKENDS

    s.add_argument("--backend", choices=BACKENDS, default=None,
                   help="where torch networks run: torch (default), onnxruntime, openvino, auto (fastest installed here), "
                        "openvino-bf16 (opt-in: faster, within a few /255 instead of 1/255)")


# ------------------------------------------------------------------------------------ commands


def cmd_methods(args: argparse.Namespace) -> int:
    from srcore.registry import all_methods

    rows, data = [], []
    for m in all_methods():
        avail = m.availability()
        scales = m.available_scales() if avail else ()
        rows.append([m.id, m.label, m.scales_text, "yes" if avail else "no", ", ".join(f"x{s}" for s in scales) if avail else avail.reason])
        data.append({"id": m.id, "label": m.label, "family": m.family, "scales": list(m.scales), "available": bool(avail),
                     "available_scales": list(scales), "reason": avail.reason})
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print_table(["id", "label", "scales", "available", "ready scales / why not"], rows)
    return 0


def _collect_inputs(src: Path) -> list[Path]:
    from srcore.imageio import is_image_file

    if src.is_dir():
        files = sorted(p for p in src.iterdir() if is_image_file(p))
        if not files:
            raise SRError(f"{src}: no image files in this folder")
        return files
    return [src]


def _ray_settings(args: argparse.Namespace) -> Any:
    """``--ray [ADDRESS]`` and its knobs; imports Ray, so only called when ``--ray`` was given."""
    from srcore.distributed import RaySettings

    models = str(Path(args.models_dir).absolute()) if args.models_dir else None  # workers do not share our working directory
    return RaySettings(args.ray, args.workers, 1.0 if args.worker_cpus is None else args.worker_cpus, models, args.backend, args.ship_code, getattr(args, "tta", None))


def cmd_upscale(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from srcore.batch import output_path, upscale_file
    from srcore.compare import method_options
    from srcore.registry import get_method

    method = get_method(args.method)
    avail = method.availability(args.scale)
    if not avail:
        raise SRError(avail.reason)
    opts = method_options(method, _options(args, [method.id]).get(method.id))
    src, dst = Path(args.input), Path(args.output)
    files = _collect_inputs(src)
    folder_mode = src.is_dir()
    if folder_mode and dst.suffix and not dst.is_dir():  # an existing folder is a folder whatever its name (out.v2/)
        raise SRError(f"{dst}: the input is a folder, so the output must be a folder too")
    size = _output_size(args)
    targets = [output_path(dst, p, method.id, args.scale) if folder_mode else dst for p in files]
    failures, kept = 0, 0
    if args.ray is not None:
        from srcore.distributed import upscale_on_ray

        failures, kept = upscale_on_ray(_ray_settings(args), method.id, args.scale, args.tile, opts, files, targets, folder_mode, size=size)
    else:
        for path, target in tqdm(list(zip(files, targets, strict=True)), disable=not folder_mode, unit="img", desc=f"{method.id} x{args.scale}"):
            try:
                for note in upscale_file(method, path, target, args.scale, args.tile, opts, size=size):
                    print(f"note: {path.name}: {note}", file=sys.stderr)
            except SRError as exc:
                if not folder_mode:
                    raise
                failures += 1
                tqdm.write(f"skipped: {exc}", file=sys.stderr)
    if not folder_mode:
        print(f"wrote {dst}")
    else:
        print(f"wrote {len(files) - failures - kept} image(s) to {dst}" + (f"; {kept} already done" if kept else "")
              + (f"; {failures} skipped" if failures else ""))
    return EXIT_USAGE if failures == len(files) else 0


def cmd_compare(args: argparse.Namespace) -> int:
    import cv2

    from srcore.atomic import atomic_write
    from srcore.compare import compare
    from srcore.filenames import safe_name
    from srcore.imageio import load_image, save_image
    from srcore.registry import all_methods
    from srcore.sheet import crop_sheet, nearest_enlarge

    degradation = _degradation(args)
    if degradation is not None and args.mode == "upscale":
        raise SRError("--degrade applies to reference mode only (upscale mode uses the input as it is)")
    if args.html and Path(args.html).is_dir():
        raise SRError(f"--html {args.html}: is a folder; name the .html file to write")
    img = load_image(args.input)
    ids = _ids(args.methods) or [m.id for m in all_methods() if m.availability(args.scale)]
    res = compare(img, args.scale, ids, args.mode, _options(args, ids), lpips=not args.no_lpips, tile=args.tile,
                  progress=lambda i, n, mid: print(f"[{i}/{n}] {mid}", file=sys.stderr), degradation=degradation,
                  size=_output_size(args))
    for note in res.notes:
        print(f"note: {note}", file=sys.stderr)
    keys = ("psnr_y", "ssim_y", "lpips", "gmsd", "niqe", "hatching", "lr_psnr") if args.mode == "reference" else ("niqe", "hatching", "lr_psnr")
    cols = _metric_columns(keys, res.lpips_variant)
    rows = [[r["method"], *(_fmt(r[k], d) for k, _, d in cols), _fmt(r["seconds"], 3), r["output_size"] or "-",
             r["error"] or "; ".join(f"{k}: {why}" for k, why in r["reasons"].items() if k in keys and why != "no ground truth (upscale mode)")]
            for r in res.table()]
    print_table(["method", *(h for _, h, _ in cols), "seconds", "size", "error / why a metric is missing"], rows)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        stem = Path(args.input).stem
        labelled = []
        if res.prepared.hr is not None:
            save_image(out / f"{stem}_HR.png", res.prepared.hr, res.prepared.hr_alpha)
            labelled.append(("HR (ground truth)", res.prepared.hr))
        save_image(out / f"{stem}_LR.png", res.prepared.lr, res.prepared.lr_alpha)
        lr_up = nearest_enlarge(res.prepared.lr, args.scale)
        if res.prepared.out_size is not None:  # --outscale: the LR shown at the output's size, still nearest
            lr_up = cv2.resize(res.prepared.lr, res.prepared.out_size[::-1], interpolation=cv2.INTER_NEAREST)
        labelled.append((f"LR input (nearest x{args.scale})", lr_up))
        for r in res.results:
            if r.ok:
                save_image(out / f"{stem}_{safe_name(r.method_id)}_x{args.scale}.png", r.output, r.alpha)
                labelled.append((r.label, r.output))
        h, w = labelled[0][1].shape[:2]
        center = (args.crop_x if args.crop_x is not None else w / 2, args.crop_y if args.crop_y is not None else h / 2)
        save_image(out / f"{stem}_crops.png", crop_sheet(labelled, center, args.crop_size, args.zoom))
        atomic_write(out / f"{stem}_metrics.json", json.dumps({**res.to_json(), "tta": args.tta}, indent=2))
        print(f"wrote outputs, crop sheet and metrics to {out}")
    extra: dict[str, Any] = {"tta": args.tta}
    if args.html and any(r.ok for r in res.results):
        from srcore.html_report import export_comparison

        size = export_comparison(res, Path(args.html), f"SR Lab · {Path(args.input).name} · ×{args.scale}")
        extra["html_bytes"] = size
        print(f"wrote {args.html} ({size / 1e6:.1f} MB, {sum(r.ok for r in res.results)} outputs embedded; opens offline)")
    if args.json:
        atomic_write(Path(args.json), json.dumps({**res.to_json(), **extra}, indent=2))
    return 0 if any(r.ok for r in res.results) else EXIT_USAGE


def cmd_bench(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from srcore.atomic import atomic_write
    from srcore.bench import run_bench

    ids = _ids(args.methods)
    if not ids:
        raise SRError("-m: name at least one method id")
    bar = tqdm(total=None, unit="img", desc="bench", file=sys.stderr)

    def progress(done: int, total: int, mid: str) -> None:
        bar.total = total
        bar.set_postfix_str(mid)
        bar.update(done - bar.n)

    if args.ray is not None:
        from srcore.distributed import bench_on_ray

        res = bench_on_ray(_ray_settings(args), Path(args.data), args.scale, ids, args.limit, not args.no_lpips, _options(args, ids),
                           progress, args.tile, lpips_net=args.lpips_net, degradation=_degradation(args))
    else:
        res = run_bench(Path(args.data), args.scale, ids, args.limit, not args.no_lpips, _options(args, ids), progress, args.tile,
                        lpips_net=args.lpips_net, degradation=_degradation(args))
    bar.close()
    for mid, why in res.skipped.items():
        print(f"skipped {mid}: {why}", file=sys.stderr)
    for mid, r in res.results.items():
        for key, why in r["reasons"].items():
            print(f"note: {mid} {key}: {why}", file=sys.stderr)
    variant = res.lpips_variant or "LPIPS"
    kind = (res.degradation or {}).get("kind", "given")
    print(f"{Path(args.data)}  x{args.scale}  {res.images} images  LR: {kind}  (PSNR-Y/SSIM-Y on BT.601 Y, {args.scale} px shaved; {variant})")
    cols = _metric_columns(("psnr_y", "ssim_y", "lpips", "gmsd", "niqe", "lr_psnr"), res.lpips_variant)
    rows = [[mid, *(_fmt(r[k], d) for k, _, d in cols), _fmt(r["seconds_per_image"], 3)] for mid, r in res.results.items()]
    print_table(["method", *(h for _, h, _ in cols), "s/image"], rows)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(Path(args.json), json.dumps({**res.to_json(), "tta": args.tta}, indent=2))
    return 0 if res.results else EXIT_USAGE


def cmd_export(args: argparse.Namespace) -> int:
    from srcore.export import export_ncnn, export_onnx

    opts = _options(args, [args.method]).get(args.method)
    if args.format == "ncnn":
        out = Path(args.output)
        meta = export_ncnn(args.method, args.scale, out, opts)
        print(f"wrote {out} + {out.with_suffix('.bin').name} (ncnn, {meta['method_id']} x{meta['scale']}, any size; "
              f"blobs {meta['input']} -> {meta['output']}; weights "
              f"{', '.join(f'{n} {h[:12]}' for n, h in json.loads(meta['weights_sha256']).items())})")
        return 0
    meta = export_onnx(args.method, args.scale, Path(args.output), opts, args.opset)
    print(f"wrote {args.output} (ONNX opset {meta['opset']}, {meta['method_id']} x{meta['scale']}, dynamic H/W; "
          f"weights {', '.join(f'{n} {h[:12]}' for n, h in json.loads(meta['weights_sha256']).items())})")
    return 0


def cmd_video(args: argparse.Namespace) -> int:
    """Upscale a clip (or score methods on it in reference mode); the pipeline is srcore.video's."""
    from tqdm import tqdm

    from srcore.atomic import atomic_write
    from srcore.video import output_paths, run_video

    ids = _ids(args.methods)
    if not ids:
        raise SRError("-m: name at least one method id")
    if args.mode == "upscale" and (args.degrade or args.seed is not None or args.jpeg_quality is not None):
        raise SRError("--degrade applies to reference mode only (upscale mode uses the frames as they are)")
    src, out = Path(args.input), Path(args.output)
    outputs = output_paths(out, ids, args.scale, src)
    bars: list[Any] = []  # made at the first frame, so a rejected input prints only its error line

    def progress(done: int, total: int | None, mid: str) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit="frame", desc=f"video x{args.scale}", file=sys.stderr, dynamic_ncols=True))
        bars[0].set_postfix_str(mid)
        bars[0].update(done - bars[0].n)

    try:
        rep = run_video(src, args.scale, ids, outputs, args.mode, _degradation(args), args.crf, args.max_frames,
                        args.tile, _options(args, ids), not args.no_lpips, progress=progress,
                        side_by_side=Path(args.side_by_side) if args.side_by_side else None, size=_output_size(args))
    finally:
        for b in bars:
            b.close()
    for note in rep.notes:
        print(f"note: {note}", file=sys.stderr)
    for t in rep.tracks:
        print(f"wrote {t.output}")
    if args.side_by_side:
        print(f"wrote {args.side_by_side}")
    if args.mode == "reference":
        variant = rep.lpips_variant or "LPIPS"
        rows = [[r["method"], _fmt(r["psnr_y"], 2), _fmt(r["ssim_y"], 4), _fmt(r["lpips"], 4), _fmt(r["flicker"], 3),
                 _fmt(r["temporal_error"], 3), _fmt(r["warp_error"], 3), _fmt(r["seconds"], 3)] for r in rep.summary_rows()]
        print(f"{src.name}  x{args.scale}  {rep.frames} frames  degradation {rep.degradation.label if rep.degradation else '-'}  "
              f"(ground-truth warp error {_fmt(rep.gt_warp_error, 3)})")
        print_table(["method", "PSNR-Y", "SSIM-Y", variant, "flicker", "temporal err", "warp err", "s/frame"], rows)
        base = outputs[0].with_suffix("") if len(outputs) == 1 else out / src.stem
        json_path = Path(args.json) if args.json else Path(f"{base}_metrics.json")
        csv_path = Path(args.csv) if args.csv else Path(f"{base}_metrics.csv")
        atomic_write(json_path, json.dumps(rep.to_json(), indent=2))
        atomic_write(csv_path, rep.csv_text())
        print(f"wrote {json_path} and {csv_path}")
    elif args.json:
        atomic_write(Path(args.json), json.dumps(rep.to_json(), indent=2))
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from srcore.weights import ZOO, download_file

    ids = args.ids or list(ZOO)
    unknown = [i for i in ids if i not in ZOO]
    if unknown:
        raise SRError(f"nothing to download for {', '.join(unknown)}; downloadable: {', '.join(ZOO)}")
    dest = Path(args.dest) if args.dest else None
    failed = 0
    for mid in ids:
        for spec in ZOO[mid]:
            try:
                path = download_file(spec, dest)
                print(f"{mid}: {path}")
            except SRError as exc:
                failed += 1
                print(f"{mid}: {exc}", file=sys.stderr)
            except OSError as exc:
                failed += 1
                print(f"{mid}: could not download {spec.url}: {exc}", file=sys.stderr)
    return EXIT_USAGE if failed else 0


# ------------------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--models-dir", help="folder searched first for model files (also: env SRCORE_MODELS)")
    p = argparse.ArgumentParser(prog="python -m srcore", description="SR Lab core: upscale, compare and benchmark super-resolution methods.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("methods", parents=[common], help="list methods and whether they can run here")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_methods)

    s = sub.add_parser("upscale", parents=[common], help="upscale an image file or a folder of images")
    s.add_argument("input", help="image file or folder")
    s.add_argument("-m", "--method", required=True, help="method id (see `methods`), or file:<path> for a spandrel model")
    s.add_argument("-s", "--scale", type=int, required=True)
    s.add_argument("-o", "--output", required=True, help="output file (file input) or folder (folder input)")
    s.add_argument("--tile", type=int, default=None, help="input tile side for network methods (default: from free memory; 0 = off)")
    s.add_argument("--strength", type=float, default=None, help="srgan/real-gan/unet-perceptual/unet-gan: 0 = the PSNR network ... 1 = the GAN (or feature-loss) network (default: the method's, srgan 0.75, real-gan 1, unet-perceptual 0.75, unet-gan 1)")
    _add_cugan_args(s)
    _add_backend_arg(s)
    _add_tta_arg(s)
    _add_outscale_args(s)
    _add_ray_args(s)
    s.set_defaults(func=cmd_upscale)

    s = sub.add_parser("compare", parents=[common], help="run several methods on one image and score them")
    s.add_argument("input")
    s.add_argument("-s", "--scale", type=int, required=True)
    s.add_argument("-m", "--methods", help="comma-separated ids (default: every available method)")
    s.add_argument("--mode", choices=["reference", "upscale"], default="reference",
                   help="reference: treat the input as ground truth (degrade, restore, score); upscale: upscale as is, no metrics")
    s.add_argument("--out", help="write outputs, a crop sheet PNG and metrics JSON to this folder")
    s.add_argument("--json", help="write the metrics JSON here")
    s.add_argument("--html", help="write one self-contained HTML file: the viewer (keys, zoom, difference, blind test), "
                   "every output embedded, the metrics table; opens offline")
    s.add_argument("--crop-x", type=float, help="crop centre x in output pixels (default: centre)")
    s.add_argument("--crop-y", type=float, help="crop centre y in output pixels (default: centre)")
    s.add_argument("--crop-size", type=int, default=64, help="crop side in output pixels")
    s.add_argument("--zoom", type=int, default=4, help="nearest-neighbour enlargement of the crops")
    s.add_argument("--no-lpips", action="store_true", help="skip LPIPS")
    _add_run_args(s, "the input (reference mode)", outscale=True)
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("bench", parents=[common], help="benchmark methods on a dataset folder")
    s.add_argument("--data", required=True, help="folder with HR/ and LR/, or plain images")
    s.add_argument("-s", "--scale", type=int, required=True)
    s.add_argument("-m", "--methods", required=True, help="comma-separated ids")
    s.add_argument("--json", help="write results JSON here")
    s.add_argument("--limit", type=int, help="use only the first N images")
    s.add_argument("--no-lpips", action="store_true")
    s.add_argument("--lpips-net", choices=["alex", "vgg"], default="alex", help="LPIPS backbone (default alex)")
    _add_run_args(s, "HR images (folders with LR/ keep their LR unless jpeg/realistic)", outscale=False)
    _add_ray_args(s)
    s.set_defaults(func=cmd_bench)

    s = sub.add_parser("export", parents=[common], help="export a network method to ONNX (opset 17+, dynamic H/W, metadata) or ncnn")
    s.add_argument("method", help="edsr, srgan, edsr-official, real-edsr/real-gan when shipped, or file:<path>")
    s.add_argument("-s", "--scale", type=int, required=True)
    s.add_argument("--format", choices=["onnx", "ncnn"], default="onnx",
                   help="onnx (read by onnxruntime, OpenVINO, TensorRT, OpenCV 5, ...) or ncnn (.param + .bin, for ncnn on phones "
                        "and CPUs; EDSR, RRDB and blended networks)")
    s.add_argument("-o", "--output", required=True, help="the .onnx file to write (ncnn: the .param; the .bin goes beside it)")
    s.add_argument("--strength", type=float, default=None, help="srgan/real-gan/unet-perceptual/unet-gan: bake this strength into the weights (default: the method's, srgan 0.75, real-gan 1, unet-perceptual 0.75, unet-gan 1)")
    _add_cugan_args(s)
    s.add_argument("--opset", type=int, default=17, help="ONNX opset (17 or newer)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("video", parents=[common], help="upscale a video clip frame by frame (audio, timing, rotation kept), or score methods on it")
    s.add_argument("input", help="video file (anything FFmpeg reads)")
    s.add_argument("-m", "--methods", "--method", dest="methods", required=True, help="method id, or comma-separated ids")
    s.add_argument("-s", "--scale", type=int, required=True)
    s.add_argument("-o", "--output", required=True, help="output clip (.mp4/.mkv/.mov); with several methods a folder")
    s.add_argument("--mode", choices=["upscale", "reference"], default="upscale",
                   help="upscale: the frames as they are; reference: each frame is ground truth (degrade, restore, score)")
    s.add_argument("--max-frames", type=int, default=None, help="stop after N frames (audio is cut to match)")
    s.add_argument("--crf", type=int, default=18, help="H.264 quality: 0 lossless ... 51 worst (default 18)")
    s.add_argument("--json", help="reference mode: metrics JSON here (default OUT_metrics.json)")
    s.add_argument("--csv", help="reference mode: per-frame CSV here (default OUT_metrics.csv)")
    s.add_argument("--side-by-side", help="also write one clip with input, every method (and ground truth) side by side")
    s.add_argument("--no-lpips", action="store_true", help="skip LPIPS (reference mode)")
    _add_run_args(s, "each frame (reference mode)", outscale=True)
    s.set_defaults(func=cmd_video)

    s = sub.add_parser("download", parents=[common], help="fetch model files (SHA-256 checked) into the cache")
    s.add_argument("ids", nargs="*", help="method ids (default: all downloadable)")
    s.add_argument("--dest", help="folder to download into (default: the user cache)")
    s.set_defaults(func=cmd_download)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.models_dir:
            from srcore.paths import use_models_dir

            use_models_dir(args.models_dir)
        if getattr(args, "ray", None) is None and (getattr(args, "workers", None) is not None
                                                   or getattr(args, "worker_cpus", None) is not None or getattr(args, "ship_code", False)):
            raise SRError("--workers/--worker-cpus/--ship-code need --ray")
        if hasattr(args, "scale") and args.scale is not None and not 1 <= args.scale <= 16:
            raise SRError(f"--scale {args.scale} is not a sensible integer scale (use 2-8)")
        from srcore.backends import use_backend
        from srcore.tta import TTA_NOTE, use_tta

        if getattr(args, "tta", False):
            print(f"note: {TTA_NOTE}", file=sys.stderr)
        with use_backend(getattr(args, "backend", None)), use_tta(getattr(args, "tta", None)):  # every network call inherits them
            return args.func(args)
    except SRError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
