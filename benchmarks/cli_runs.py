"""Whole CLI processes, timed as a user runs them: what start-up, export/compile caches and scoring cost.

    python benchmarks/cli_runs.py --json docs/cli_runs.json
    python benchmarks/cli_runs.py --baseline /tmp/sr_head --json docs/cli_runs.json   # also an older checkout, interleaved

Two cases (issue 22), each a fresh ``python -m srcore`` process per run, runs interleaved so a change
in the machine's load hits every variant alike, median of ``--rounds``:

* ``upscale``: six 256x256 images (a folder) with ``edsr`` x4, ``--backend torch`` vs ``--backend auto``.
  One ``auto`` run first fills the on-disk graph cache (``first_auto_s``; a machine pays it once).
* ``compare``: ``compare big.png -s 4 -m nearest`` (1024x1024, reference mode: degradation + every metric)
  against ``upscale`` of the same 256x256 LR with ``nearest``: the difference is what scoring costs a user.

``--baseline DIR`` runs the same commands in another checkout (e.g. ``git worktree add /tmp/sr_head <rev>``)
so "before" and "after" come from one run on the same machine. The CPU is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _inputs(work: Path, small: int, big_side: int) -> dict[str, Path]:
    from benchmarks.load import make_crop
    from srcore.degrade import imresize
    from srcore.imageio import save_image

    six = work / "six"
    for i in range(6):
        save_image(six / f"img{i}.png", make_crop(i, small))
    big = make_crop(7, big_side)
    save_image(work / "big.png", big)
    save_image(work / "lr.png", imresize(big, 0.25))
    return {"six": six, "big": work / "big.png", "lr": work / "lr.png"}


def _run(repo: Path, args: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "srcore", *args], cwd=repo, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} in {repo}: exit {proc.returncode}: {proc.stderr.strip()[-400:]}")
    return secs


def run(repos: dict[str, Path], rounds: int, sizes: tuple[int, int] = (256, 1024)) -> dict[str, Any]:
    from srcore.backends import cpu_info

    with tempfile.TemporaryDirectory(prefix="srlab-cli-") as tmp:
        work = Path(tmp)
        inp = _inputs(work, *sizes)
        cases = {
            "upscale_torch": lambda r, n: ["upscale", str(inp["six"]), "-m", "edsr", "-s", "4", "-o", str(work / f"o_{n}_t"), "--backend", "torch"],
            "upscale_auto": lambda r, n: ["upscale", str(inp["six"]), "-m", "edsr", "-s", "4", "-o", str(work / f"o_{n}_a"), "--backend", "auto"],
            "compare_nearest": lambda r, n: ["compare", str(inp["big"]), "-s", "4", "-m", "nearest"],
            "upscale_nearest": lambda r, n: ["upscale", str(inp["lr"]), "-m", "nearest", "-s", "4", "-o", str(work / f"o_{n}_n.png")],
        }
        first_auto = {}
        for name, repo in repos.items():
            first_auto[name] = _run(repo, cases["upscale_auto"](repo, f"{name}_first"))
            print(f"{name:<9} first upscale --backend auto (fills the graph cache): {first_auto[name]:6.2f} s", flush=True)
        times: dict[str, dict[str, list[float]]] = {n: {c: [] for c in cases} for n in repos}
        for k in range(rounds):
            for case, make in cases.items():
                for name, repo in repos.items():
                    secs = _run(repo, make(repo, f"{name}_{k}"))
                    times[name][case].append(secs)
                    print(f"{name:<9} round {k + 1}  {case:<16} {secs:6.2f} s", flush=True)
    out: dict[str, Any] = {"cpu": cpu_info().describe(), "rounds": rounds, "sizes": list(sizes), "repos": {n: str(p) for n, p in repos.items()}, "results": {}}
    for name in repos:
        med = {c: statistics.median(v) for c, v in times[name].items()}
        res = {"median_s": med, "all_s": times[name], "first_auto_s": first_auto[name],
               "auto_over_torch": med["upscale_auto"] / med["upscale_torch"],
               "compare_minus_upscale_s": med["compare_nearest"] - med["upscale_nearest"]}
        out["results"][name] = res
        print(f"{name:<9} auto/torch {res['auto_over_torch']:.2f}x   compare - upscale (nearest, 1024² reference) "
              f"{res['compare_minus_upscale_s']:.2f} s", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="timed runs per case (median reported)")
    p.add_argument("--sizes", default="256,1024", help="side of the six upscale images, side of the compare image (default 256,1024)")
    p.add_argument("--baseline", type=Path, help="another checkout to time the same way (e.g. the code before a change)")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    repos = {"this": REPO}
    if args.baseline is not None:
        if not (args.baseline / "srcore" / "__main__.py").is_file():
            print(f"error: --baseline {args.baseline}: not an SR Lab checkout", file=sys.stderr)
            return 2
        repos["baseline"] = args.baseline.resolve()
    from srcore.backends import cpu_info

    print(f"CPU: {cpu_info().describe()}", flush=True)
    try:
        sizes = tuple(int(v) for v in args.sizes.split(","))
    except ValueError:
        sizes = ()
    if len(sizes) != 2 or min(sizes) < 16 or sizes[1] % 4:
        print(f"error: --sizes wants two sides >= 16, the second a multiple of 4, got {args.sizes!r}", file=sys.stderr)
        return 2
    res = run(repos, max(1, args.rounds), sizes)  # type: ignore[arg-type]
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
