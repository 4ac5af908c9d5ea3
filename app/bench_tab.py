"""Benchmark tab: mean PSNR-Y / SSIM-Y / LPIPS / GMSD / NIQE / LR-PSNR and speed over a dataset, via ``srcore.bench.run_bench``.

Results stream in per method (the dataset is loaded once and each method benchmarked in turn),
so a long run shows its first rows within seconds.

Datasets are only what the operator exposed (the shared Set5/Set14 folder, ``--data-dir``
folders, shown by name, never by path) or a zip the user uploads, unpacked defensively into
a private per-request folder.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import gradio as gr
import pandas as pd

from app import render, workspace
from app.config import SHARED_BENCHMARK_DIR, AppConfig
from app.inputs import parse_methods, parse_scale, parse_spec, safe_name
from app.messages import public_text, user_errors
from app.methods import SCALES, checkbox_choices, default_methods, on_scale, unavailable_html
from srcore.bench import load_dataset, run_bench
from srcore.errors import InputImageError, SRError
from srcore.imageio import IMAGE_SUFFIXES, load_image
from srcore.registry import get_method

UPLOAD = "Upload a zip of images"
MAX_ZIP_MEMBERS = 500
MAX_ZIP_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Dataset:
    name: str
    path: Path


def discover_datasets(cfg: AppConfig) -> list[Dataset]:
    """Shared Set5/Set14 (when next to this checkout) and every ``--data-dir``; names made unique."""
    found: list[Dataset] = []
    if cfg.use_shared_benchmarks and SHARED_BENCHMARK_DIR.is_dir():
        # Smallest first: Set5 is the quick default, Set14 the longer run.
        shared = [p for p in SHARED_BENCHMARK_DIR.iterdir() if p.is_dir()]
        found += [Dataset(p.name, p) for p in sorted(shared, key=lambda p: (sum(1 for _ in p.rglob("*")), p.name))]
    for d in cfg.data_dirs:
        d = Path(d).expanduser().resolve()
        if d.is_dir():
            generic = d.name.upper() in {"HR", "LR"} or re.fullmatch(r"x\d+", d.name) is not None
            name = f"{d.parent.name}/{d.name}" if generic else d.name
            found.append(Dataset(name, d))
    seen: dict[str, int] = {}
    unique = []
    for ds in found:
        n = seen.get(ds.name, 0)
        seen[ds.name] = n + 1
        unique.append(Dataset(ds.name if n == 0 else f"{ds.name} ({n + 1})", ds.path))
    return unique


def resolve_folder(root: Path, scale: int) -> tuple[Path, str | None]:
    """The folder ``load_dataset`` should read for ``scale``, and a note when it is not the obvious one.

    ``Set5/x4/{HR,LR}`` layouts are picked by scale; a scale without pairs falls back to an
    existing HR folder, degraded with SR Lab's MATLAB-style bicubic (and says so).
    """
    by_scale = root / f"x{scale}"
    if by_scale.is_dir():
        return by_scale, None
    scaled = sorted(p for p in root.iterdir() if p.is_dir() and p.name[:1] == "x" and p.name[1:].isdigit())
    if scaled:
        for p in scaled:
            if (p / "HR").is_dir():
                return p / "HR", f"no ×{scale} pairs in this dataset: LR made from its {p.name}/HR images with MATLAB-style bicubic"
        raise SRError(f"this dataset has no ×{scale} pairs (it has {', '.join(p.name for p in scaled)})")
    return root, None


def extract_zip(zip_path: str | bytes, dest: Path, max_pixels: int) -> Path:
    """Unpack image files only, flattened into ``dest`` (or ``dest/HR``, ``dest/LR`` when the zip has such folders).

    Never trusts member names (no absolute paths, no ``..``), caps member count and total size
    (zip bombs), and checks every image's size from its header with srcore's loader limit.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(zip_path) if isinstance(zip_path, bytes) else zip_path)
    except (zipfile.BadZipFile, OSError):
        raise InputImageError(f"{'the upload' if isinstance(zip_path, bytes) else Path(zip_path).name}: not a zip file") from None
    with zf:
        members = [i for i in zf.infolist() if not i.is_dir() and Path(i.filename).suffix.lower() in IMAGE_SUFFIXES
                   and not PurePosixPath(i.filename).name.startswith(".") and "__MACOSX" not in i.filename]
        if not members:
            raise InputImageError("the zip holds no image files (png, jpg, bmp, tif, webp...)")
        if len(members) > MAX_ZIP_MEMBERS:
            raise InputImageError(f"the zip holds {len(members)} images; the limit is {MAX_ZIP_MEMBERS}")
        if sum(i.file_size for i in members) > MAX_ZIP_BYTES:
            raise InputImageError(f"the zip unpacks to more than {MAX_ZIP_BYTES // 2**20} MB; use a smaller dataset")
        paired = any(p in {"HR", "LR"} for i in members for p in PurePosixPath(i.filename).parts[:-1])
        for info in members:
            parts = PurePosixPath(info.filename).parts
            sub = next((p for p in reversed(parts[:-1]) if p in {"HR", "LR"}), None) if paired else None
            if paired and sub is None:
                continue
            target_dir = dest / sub if sub else dest
            target_dir.mkdir(parents=True, exist_ok=True)
            target = target_dir / PurePosixPath(parts[-1]).name
            if target.exists():
                raise InputImageError(f"the zip has two images named {target.name}; names must be unique")
            with zf.open(info) as src, open(target, "wb") as out:
                out.write(src.read(MAX_ZIP_BYTES + 1))
            load_image(target, name=target.name, pixel_limit=max_pixels)  # refuses bombs / non-images with a clear line
    return dest


def _discard(path: str | None) -> None:
    workspace.remove(path)


class BenchTab:
    def __init__(self, cfg: AppConfig) -> None:
        self.cfg = cfg
        self.datasets = discover_datasets(cfg)

    def run(
        self,
        dataset: str,
        upload: str | bytes | None,
        scale: int,
        methods: list[str] | None,
        limit: float | None,
        use_lpips: bool,
        perception: str,
        old_dir: str | None,
        progress: gr.Progress = gr.Progress(),
    ) -> Iterator[tuple[Any, ...]]:
        """Benchmark the chosen methods, one row at a time; the same numbers as ``python -m srcore bench``.

        Everything that can be refused is checked before the run folder exists, and the folder is removed
        on any error after it does, so a bad request leaves nothing behind on the server.
        """
        ids = parse_methods(methods)
        s = parse_scale(scale)
        ds = None
        if dataset == UPLOAD:
            if not upload:
                raise SRError("upload a zip of images first (or pick a dataset)")
        else:
            ds = next((d for d in self.datasets if d.name == dataset), None)
            if ds is None:
                raise SRError("pick a dataset")
        _discard(old_dir)
        run_dir = workspace.new_run_dir("bench")
        try:
            yield from self._run(run_dir, ds, upload, s, ids, limit, use_lpips, perception, progress)
        except BaseException:
            workspace.remove(run_dir)
            raise

    def _run(self, run_dir: Path, ds: Any, upload: str | bytes | None, s: int, ids: list[str], limit: float | None,
             use_lpips: bool, perception: str, progress: gr.Progress) -> Iterator[tuple[Any, ...]]:
        notes: list[str] = []
        if ds is None:
            progress(0.0, desc="Unpacking the zip")
            folder = extract_zip(upload, run_dir / "data", self.cfg.max_pixels)
            title = "uploaded zip" if isinstance(upload, bytes) else Path(upload).name
        else:
            folder, note = resolve_folder(ds.path, s)
            notes += [note] if note else []
            title = ds.name
        n = int(limit) if limit else None
        progress(0.0, desc="Loading images")
        images = load_dataset(folder, s, n)
        csv = run_dir / f"srlab_bench_{safe_name(title)}_x{s}.csv"
        results: dict[str, dict[str, Any]] = {}
        skipped: dict[str, str] = {}
        variant: str | None = None
        plot_title = f"{title} ×{s}"
        for i, mid in enumerate(ids):
            def report(done: int, total: int, _mid: str, i: int = i) -> None:
                progress((i + done / max(total, 1)) / len(ids), desc=f"{_mid}: {done}/{total} images")

            res = run_bench(images, s, [mid], lpips=bool(use_lpips), progress=report)
            variant = variant or res.lpips_variant
            results.update(res.results)
            skipped.update(res.skipped)
            labels = {m: get_method(parse_spec(m).method_id).label for m in results}
            df = render.bench_frame(results, labels, variant)
            lines = [f"**{title}** · ×{s} · {len(images)} images · {i + 1}/{len(ids)} methods"
                     f"{'' if i + 1 == len(ids) else ' (running…)'} · PSNR-Y/SSIM-Y/GMSD on BT.601 Y, {s} px shaved · "
                     f"LPIPS: {variant or 'not computed'}"]
            lines += [f"- {note}" for note in notes]
            lines += [f"- skipped **{html.escape(m)}**: {public_text(why)}" for m, why in skipped.items()]
            done = i + 1 == len(ids)
            if done:
                out = df.assign(dataset=title, scale=s, images=len(images))
                out.to_csv(csv, index=False, float_format="%.6f")
            yield (
                str(run_dir),
                "\n".join(lines),
                render.bench_html(df) if len(df) else "",
                render.perception_distortion_plot(df, variant, plot_title, perception),
                render.speed_quality_plot(df, plot_title),
                str(csv) if done else None,
                df.to_dict("records"),
            )

    def on_axis(self, rows: list[dict[str, Any]] | None, perception: str, dataset: str, scale: int) -> Any:
        """Switch the perception axis without re-running: the plot is redrawn from the last results."""
        if not rows:
            return gr.skip()
        df = pd.DataFrame(rows)
        variant = next((r.get("lpips_variant") for r in rows if r.get("lpips_variant")), None)
        return render.perception_distortion_plot(df, variant, f"{dataset} ×{scale}", perception)

    def build(self) -> None:
        default_scale = 4
        names = [d.name for d in self.datasets]
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=320):
                dataset = gr.Radio([*names, UPLOAD], value=names[0] if names else UPLOAD, label="Dataset", elem_id="bench-dataset",
                                   info="HR/ + LR/ pairs are used as given; plain images are degraded with MATLAB-style bicubic.")
                upload = gr.File(label="Zip of images (optional HR/ and LR/ folders)", file_types=[".zip"], type="binary",
                                 visible=not names, elem_id="bench-upload")
                scale = gr.Radio(list(SCALES), value=default_scale, label="Scale")
                methods = gr.CheckboxGroup(checkbox_choices(default_scale), value=default_methods(default_scale), label="Methods",
                                           elem_id="bench-methods")
                with gr.Row():
                    limit = gr.Number(value=0, precision=0, minimum=0, label="Use first N images (0 = all)")
                    use_lpips = gr.Checkbox(value=True, label="LPIPS")
                run = gr.Button("Run benchmark", variant="primary", elem_id="bench-run")
                unavailable = gr.HTML(unavailable_html(default_scale))
            with gr.Column(scale=2, min_width=480):
                summary = gr.Markdown("Pick a dataset and methods, then **Run benchmark**: one row per method appears as it finishes.",
                                      elem_id="bench-summary")
                table = gr.HTML(elem_id="bench-table")
                perception = gr.Radio([(v, k) for k, v in render.PERCEPTION_AXES.items()], value="lpips",
                                      label="Perception axis of the perception–distortion plot", elem_id="bench-axis")
                with gr.Row():
                    pd_plot = gr.Plot(label="Perception–distortion", format="png", show_label=False, elem_id="bench-pd-plot")
                    speed_plot = gr.Plot(label="Speed–quality", format="png", show_label=False, elem_id="bench-speed-plot")
                csv = gr.File(label="CSV", interactive=False)
        run_dir = gr.State(None, time_to_live=3600, delete_callback=_discard)
        rows = gr.State(None)
        dataset.change(lambda d: gr.update(visible=d == UPLOAD), [dataset], [upload], api_visibility="private")
        scale.change(user_errors(on_scale), [scale, methods], [methods, unavailable], api_visibility="private")
        run.click(user_errors(self.run), [dataset, upload, scale, methods, limit, use_lpips, perception, run_dir],
                  [run_dir, summary, table, pd_plot, speed_plot, csv, rows], api_name="bench", api_visibility="undocumented",
                  concurrency_limit=self.cfg.concurrency, concurrency_id="heavy")
        perception.change(self.on_axis, [rows, perception, dataset, scale], [pd_plot], api_visibility="private")
