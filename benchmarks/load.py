"""Load test: the real SR Lab server under several concurrent ``gradio_client`` users.

Why a subprocess and not the in-process ``srlab_server`` fixture: the figures that matter under
real use (peak RSS, memory left behind after each round, files piling up in Gradio's cache) are
those of the server process alone, started exactly as an operator would start it::

    python app.py --host 127.0.0.1 --port N [--models-dir ../shared/models/opencv]

``--clients`` users each run ``--rounds`` comparisons (x4, reference mode, a 512x512 photo crop)
through the ``/compare`` API endpoint. Rounds are synchronised (every client sends its request,
then all answers are awaited) so that "RSS after round r" and "temp files after round r" are
well defined: they must level off, not keep growing.

Per-request isolation: every client uploads a *different* crop and checks that the bicubic
PSNR-Y it gets back is the one computed locally for its own image, so a response computed for
one user can never be served to another unnoticed.

Exit code: 0 only when every comparison succeeded and passed the isolation check; 1 otherwise;
2 when the run could not start (bad arguments, server did not come up).

    python benchmarks/load.py                          # 8 clients x 5 rounds (the target)
    python benchmarks/load.py --clients 3 --rounds 2 --json load.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python benchmarks/load.py` from anywhere: srcore must import
    sys.path.insert(0, str(REPO))

from srcore.atomic import atomic_write  # noqa: E402
from srcore.specs import split_ids  # noqa: E402 - after the path set-up above

SHARED_OPENCV = REPO.parent / "shared" / "models" / "opencv"
#: bicubic + two learned methods: the stock OpenCV zoo models when ../shared has them ...
OPENCV_METHODS = ("bicubic", "dnn-espcn", "dnn-fsrcnn")
#: ... else interpolation only (the load on the queue is still real, the numbers just cheaper) ...
FALLBACK_METHODS = ("bicubic", "lanczos", "bilinear")
#: ... or, with --ours, our own trained networks (once they ship in assets/).
OUR_METHODS = ("bicubic", "espcn", "edsr")
SCALE = 4
SIZE = 512
MODE = "reference"
#: Same file, same code on both sides: the server's PSNR must match ours to float precision.
PSNR_TOLERANCE = 1e-4
MB = 1024 * 1024


# ------------------------------------------------------------------------------------ inputs


def make_crop(index: int, size: int = SIZE) -> np.ndarray:
    """A distinct natural-image crop per index.

    skimage's astronaut is exactly 512x512, so "different crops" come from a reflect-padded
    canvas (same photo statistics as the original, no synthetic patterns) at well-spread offsets.
    """
    import skimage.data

    base = skimage.data.astronaut()
    canvas = np.pad(base, ((size // 2, size // 2), (size // 2, size // 2), (0, 0)), mode="reflect")
    span_y, span_x = canvas.shape[0] - size, canvas.shape[1] - size
    y, x = (37 + index * 53) % span_y, (11 + index * 97) % span_x
    return np.ascontiguousarray(canvas[y : y + size, x : x + size])


def expected_bicubic_psnr(path: Path) -> float:
    """What the server must answer for this exact file: srcore's own bicubic PSNR-Y, computed here."""
    from srcore.compare import compare
    from srcore.imageio import load_image

    row = compare(load_image(path), SCALE, ["bicubic"], MODE, lpips=False).table()[0]
    if row["psnr_y"] is None:
        raise RuntimeError(f"bicubic failed locally on {path}: {row['error']}")
    return float(row["psnr_y"])


def write_inputs(folder: Path, clients: int, rounds: int, new_each_round: bool) -> tuple[dict[tuple[int, int], Path], dict[Path, float]]:
    """One PNG per (client, round) slot and its expected PSNR; slots share a file unless ``new_each_round``."""
    from srcore.imageio import save_image

    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[tuple[int, int], Path] = {}
    expected: dict[Path, float] = {}
    for c in range(clients):
        for r in range(rounds):
            index = c * rounds + r if new_each_round else c
            path = folder / f"crop{index:03d}.png"
            if path not in expected:
                save_image(path, make_crop(index))
                expected[path] = expected_bicubic_psnr(path)
            paths[(c, r)] = path
    values = sorted(expected.values())
    close = [(a, b) for a, b in zip(values, values[1:], strict=False) if b - a < 100 * PSNR_TOLERANCE]
    if close:  # otherwise a swapped response could pass the isolation check
        raise RuntimeError(f"two input crops give nearly the same bicubic PSNR-Y ({close[0]}); isolation could not be checked")
    return paths, expected


# ------------------------------------------------------------------------------------ server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dir_stats(folder: Path) -> dict[str, int]:
    """Files, bytes and empty files below ``folder``.

    Empty files are counted apart because Gradio 6's ``gr.File(type="filepath")`` leaves one empty
    ``tmp*`` file in its cache per call (an unused ``NamedTemporaryFile(delete=False)`` in its
    preprocess), which ``delete_cache`` does not track; data files (uploads, outputs) must not pile up.
    """
    files = size = empty = 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            try:
                n = os.stat(os.path.join(dirpath, name)).st_size
            except OSError:  # removed while we walk
                continue
            files += 1
            size += n
            empty += n == 0
    return {"files": files, "bytes": size, "empty": empty}


class RSSMonitor(threading.Thread):
    """Polls the server process and its children every ``interval`` seconds; keeps the peak total RSS.

    Polling (not ``ru_maxrss``) because the server keeps running between rounds and we want its
    peak so far, plus children, which ``getrusage`` would only report after they exit.
    """

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop_event = threading.Event()

    def sample(self) -> int:
        total = 0
        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
        except psutil.Error:
            return 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        self.peak = max(self.peak, total)
        return total

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    command: list[str]
    log: Path
    gradio_temp: Path
    scratch: Path
    ready_s: float = 0.0

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGINT first, so Gradio closes cleanly (and the app's atexit cleanup runs); then escalate."""
        if self.proc.poll() is not None:
            return
        for action, wait in ((lambda: self.proc.send_signal(signal.SIGINT), 15), (self.proc.terminate, 10), (self.proc.kill, 10)):
            action()
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


def start_server(work: Path, models_dir: Path | None, deadline: float, extra_args: Sequence[str] = (),
                 extra_env: dict[str, str] | None = None) -> Server:
    """``python app.py`` on loopback, with its own fresh GRADIO_TEMP_DIR and TMPDIR so their files can be counted."""
    port = free_port()
    command = [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)]
    if models_dir is not None:
        command += ["--models-dir", str(models_dir)]
    command += list(extra_args)
    gradio_temp, scratch = work / "gradio", work / "tmp"
    gradio_temp.mkdir()
    scratch.mkdir()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(gradio_temp), "TMPDIR": str(scratch),
           "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    log = work / "server.log"
    t0 = time.monotonic()
    with log.open("wb") as fh:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT)
    server = Server(proc, f"http://127.0.0.1:{port}/", command, log, gradio_temp, scratch)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before answering:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + "config", timeout=5) as resp:
                if resp.status == 200:
                    server.ready_s = time.monotonic() - t0
                    return server
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"server did not answer within the time limit:\n{server.log_tail()}")


# ------------------------------------------------------------------------------------ clients


@dataclass
class Outcome:
    client: int
    round: int
    image: str
    sent: bool = False
    ok: bool = False
    latency_s: float | None = None
    error: str | None = None
    isolation_ok: bool | None = None  # None: no answer to check


def check_report(report: dict[str, Any], methods: Sequence[str], want_psnr: float, others: dict[float, str]) -> tuple[str | None, bool | None]:
    """(error, isolation_ok) for one ``/compare`` answer: every method ran, and bicubic scored *our* image.

    ``others`` maps the other images' expected PSNR-Y to their file names, to say whose answer we got.
    """
    rows = {r.get("method"): r for r in report.get("results", [])}
    isolated: bool | None = None
    got = rows.get("bicubic", {}).get("psnr_y")
    if got is not None:  # checked first: a wrong user's numbers matter more than a failed method
        isolated = abs(float(got) - want_psnr) <= PSNR_TOLERANCE
        if not isolated:
            owner = next((name for v, name in others.items() if abs(float(got) - v) <= PSNR_TOLERANCE), None)
            whose = f" (it is {owner}'s, another client's image)" if owner else ""
            return f"isolation: bicubic PSNR-Y {got} but {want_psnr:.6f} expected for this client's own image{whose}", False
    missing = [m for m in methods if m not in rows]
    if missing:
        return f"no result row for {', '.join(missing)}", isolated
    failed = [f"{m}: {rows[m]['error']}" for m in methods if rows[m].get("error")]
    if failed:
        return "method failed: " + "; ".join(failed), isolated
    bad_size = [m for m in methods if rows[m].get("output_size") != f"{SIZE}x{SIZE}"]
    if bad_size:
        return f"unexpected output size from {', '.join(bad_size)}: {[rows[m].get('output_size') for m in bad_size]}", isolated
    return None, isolated


def one_comparison(client: Any, c: int, r: int, path: Path, methods: Sequence[str], want: float,
                   images: dict[str, float], deadline: float) -> Outcome:
    """One user's request, timed from upload to answer (so queueing behind other users counts)."""
    from gradio_client import handle_file

    out = Outcome(c, r, path.name)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        out.error = "not sent: --timeout reached"
        return out
    t0 = time.perf_counter()
    out.sent = True
    job = None
    try:
        job = client.submit(handle_file(str(path)), SCALE, list(methods), MODE, api_name="/compare")
        report, _table = job.result(timeout=remaining)
    except TimeoutError:
        if job is not None:
            job.cancel()
        out.error = f"timed out after {time.perf_counter() - t0:.1f} s (--timeout)"
        return out
    except Exception as exc:  # AppError, connection errors: all are failures to report, never to hide
        out.error = f"{type(exc).__name__}: {exc}".strip()
        return out
    out.latency_s = time.perf_counter() - t0
    out.error, out.isolation_ok = check_report(report, methods, want, {v: k for k, v in images.items() if k != path.name})
    out.ok = out.error is None
    return out


# ------------------------------------------------------------------------------------ main


def choose_methods(args: argparse.Namespace) -> tuple[list[str], Path | None]:
    """The method list and the models folder for the server, per the flags and what this checkout has."""
    models_dir = args.models_dir
    if models_dir is None and not args.no_shared and SHARED_OPENCV.is_dir():
        models_dir = SHARED_OPENCV
    if args.methods:
        methods = split_ids(args.methods)
    elif args.ours:
        from srcore.registry import get_method

        missing = [m for m in OUR_METHODS if not get_method(m).availability(SCALE)]
        if missing:
            raise SystemExit(f"error: --ours: {', '.join(missing)} not available at x{SCALE} (weights not shipped in assets/)")
        methods = list(OUR_METHODS)
    else:
        methods = list(OPENCV_METHODS if models_dir is not None and Path(models_dir).resolve() == SHARED_OPENCV.resolve() else FALLBACK_METHODS)
    if "bicubic" not in methods:
        methods.insert(0, "bicubic")  # the isolation check needs it
    return methods, models_dir


def stats_text(gradio: dict[str, int], scratch: dict[str, int]) -> str:
    return (f"gradio temp {gradio['files']} files ({gradio['empty']} empty, {gradio['bytes'] / MB:.1f} MB), "
            f"scratch {scratch['files']} files")


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def fmt_s(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def run(args: argparse.Namespace) -> dict[str, Any]:
    from gradio_client import Client

    t_start = time.monotonic()
    deadline = t_start + args.timeout
    methods, models_dir = choose_methods(args)
    work = Path(tempfile.mkdtemp(prefix="srlab-load-"))
    server: Server | None = None
    monitor: RSSMonitor | None = None
    try:
        paths, expected = write_inputs(work / "inputs", args.clients, args.rounds, args.new_image_each_round)
        names = {p.name: v for p, v in expected.items()}
        extra = ["--concurrency", str(args.server_concurrency)] if args.server_concurrency else []
        server = start_server(work, models_dir, t_start + args.startup_timeout, extra, dict(args.server_env))
        # The comparison budget starts once the server answers: a slow start on a busy machine is not load.
        deadline = time.monotonic() + args.timeout
        env_text = "".join(f"{k}={v} " for k, v in args.server_env)
        print(f"server: {env_text}{' '.join(server.command[1:])} (pid {server.proc.pid}), ready in {server.ready_s:.1f} s", flush=True)
        monitor = RSSMonitor(server.proc.pid, args.poll)
        monitor.start()
        rss_start = monitor.sample()
        temp_start = (dir_stats(server.gradio_temp), dir_stats(server.scratch))
        print(f"{args.clients} clients x {args.rounds} rounds, x{SCALE} {MODE}, {SIZE}x{SIZE} input, methods {','.join(methods)}", flush=True)
        print(f"idle: RSS {rss_start / MB:.0f} MB, {stats_text(temp_start[0], temp_start[1])}", flush=True)

        outcomes: list[Outcome] = []
        clients: list[Any] = []
        for c in range(args.clients):
            try:
                clients.append(Client(server.url, verbose=False, download_files=False))
            except Exception as exc:
                outcomes.extend(Outcome(c, r, paths[(c, r)].name, error=f"client could not connect: {exc}") for r in range(args.rounds))
                clients.append(None)
        rounds: list[dict[str, Any]] = []
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            for r in range(args.rounds):
                t_round = time.monotonic()
                futures = [pool.submit(one_comparison, cl, c, r, paths[(c, r)], methods, expected[paths[(c, r)]], names, deadline)
                           for c, cl in enumerate(clients) if cl is not None]
                got = [f.result() for f in futures]
                outcomes.extend(got)
                rss = monitor.sample()
                g, s = dir_stats(server.gradio_temp), dir_stats(server.scratch)
                ok = sum(o.ok for o in got)
                rounds.append({"round": r + 1, "ok": ok, "sent": len(got), "seconds": round(time.monotonic() - t_round, 2),
                               "rss_mb": round(rss / MB, 1), "gradio_temp": g, "scratch": s})
                print(f"round {r + 1}/{args.rounds}: {ok}/{len(got)} ok in {time.monotonic() - t_round:.1f} s, "
                      f"server RSS {rss / MB:.0f} MB, {stats_text(g, s)}", flush=True)
                if time.monotonic() >= deadline:
                    break
        for cl in clients:
            if cl is not None:
                try:
                    cl.close()
                except Exception:
                    pass
        # Slots never reached (deadline) count as failures: the target is "all N x M succeed".
        done = {(o.client, o.round) for o in outcomes}
        outcomes.extend(Outcome(c, r, paths[(c, r)].name, error="not sent: --timeout reached")
                        for c in range(args.clients) for r in range(args.rounds) if (c, r) not in done)
        monitor.sample()
        lat = [o.latency_s for o in outcomes if o.latency_s is not None]
        rss_after = [x["rss_mb"] for x in rounds]
        result = {
            "ok": all(o.ok for o in outcomes),
            "clients": args.clients,
            "rounds": args.rounds,
            "scale": SCALE,
            "mode": MODE,
            "input_size": f"{SIZE}x{SIZE}",
            "methods": methods,
            "models_dir": str(models_dir) if models_dir else None,
            "server_command": server.command[1:],
            "server_env": dict(args.server_env),
            "server_ready_s": round(server.ready_s, 2),
            "total": len(outcomes),
            "succeeded": sum(o.ok for o in outcomes),
            "latency_s": {"p50": percentile(lat, 50), "p95": percentile(lat, 95), "max": max(lat) if lat else None,
                          "mean": float(np.mean(lat)) if lat else None},
            "isolation": {"checked": sum(o.isolation_ok is not None for o in outcomes),
                          "mismatches": sum(o.isolation_ok is False for o in outcomes),
                          "distinct_images": len(expected)},
            "errors": [{"client": o.client + 1, "round": o.round + 1, "image": o.image, "message": o.error} for o in outcomes if o.error],
            "rss_mb": {"idle": round(rss_start / MB, 1), "peak": round(monitor.peak / MB, 1), "after_round": rss_after},
            "requests_sent": sum(o.sent for o in outcomes),
            "temp_files": {"gradio_dir": str(server.gradio_temp), "gradio_idle": temp_start[0], "scratch_idle": temp_start[1],
                           "gradio_after_round": [x["gradio_temp"] for x in rounds],
                           "scratch_after_round": [x["scratch"] for x in rounds]},
            "per_round": rounds,
            "wall_s": round(time.monotonic() - t_start, 1),
        }
        if not result["ok"] and server.proc.poll() is not None:
            result["server_log_tail"] = server.log_tail()
        return result
    finally:
        if monitor is not None:
            monitor.stop()
        if server is not None:
            server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}", file=sys.stderr)


def report(res: dict[str, Any]) -> None:
    lat, rss, iso, tf = res["latency_s"], res["rss_mb"], res["isolation"], res["temp_files"]
    print()
    print(f"succeeded: {res['succeeded']}/{res['total']}")
    print(f"latency (s, upload to answer, queueing included): p50 {fmt_s(lat['p50'])}  p95 {fmt_s(lat['p95'])}  max {fmt_s(lat['max'])}")
    print(f"isolation: {iso['checked'] - iso['mismatches']}/{iso['checked']} answers carried the client's own image's bicubic PSNR-Y "
          f"({iso['distinct_images']} distinct images)")
    print(f"server RSS (MB, process + children): idle {rss['idle']:.0f}, peak {rss['peak']:.0f}, "
          f"after each round {', '.join(f'{v:.0f}' for v in rss['after_round'])}")
    g = tf["gradio_after_round"]
    per_round = ", ".join(f"{x['files']}/{x['bytes'] / MB:.1f}" for x in g)
    print(f"gradio temp dir: idle {tf['gradio_idle']['files']} files; after each round (files/MB) {per_round}")
    print(f"  of which empty: idle {tf['gradio_idle']['empty']}, after each round {[x['empty'] for x in g]}")
    print(f"scratch (server TMPDIR) files: idle {tf['scratch_idle']['files']}, after each round {[x['files'] for x in tf['scratch_after_round']]}")
    stray = g[-1]["empty"] - tf["gradio_idle"]["empty"] if g else 0
    if stray:
        print(f"note: {stray} empty tmp* files appeared in the gradio temp dir for {res['requests_sent']} requests: Gradio's "
              "gr.File(type='filepath') preprocess leaves one per call, and delete_cache does not remove them")
    print(f"errors: {len(res['errors']) or 'none'}")
    for e in res["errors"]:
        print(f"  client {e['client']} round {e['round']} ({e['image']}): {e['message']}")
    if "server_log_tail" in res:
        print("server log (tail):\n" + res["server_log_tail"])
    print(f"wall time {res['wall_s']:.0f} s; {'OK' if res['ok'] else 'FAILED'}")


def env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Concurrent-users load test of the SR Lab app (real server subprocess, /compare API).")
    p.add_argument("--clients", type=int, default=8, help="concurrent gradio_client users (default 8)")
    p.add_argument("--rounds", type=int, default=5, help="comparisons per user (default 5)")
    p.add_argument("--timeout", type=float, default=900.0, help="wall-clock budget for the comparisons, after the server is up (default 900 s)")
    p.add_argument("--startup-timeout", type=float, default=300.0, help="how long the server may take to start (default 300 s)")
    p.add_argument("--methods", help="comma-separated method ids (bicubic is always added: the isolation check uses it)")
    p.add_argument("--ours", action="store_true", help=f"use our own trained methods: {','.join(OUR_METHODS)} (needs weights in assets/)")
    p.add_argument("--models-dir", type=Path, help=f"passed to the server (default: {SHARED_OPENCV} when present)")
    p.add_argument("--no-shared", action="store_true", help="do not use ../shared/models/opencv even when it exists")
    p.add_argument("--server-concurrency", type=int, help="the server's --concurrency (default: the app's own default)")
    p.add_argument("--server-env", type=env_pair, action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment variable for the server (repeatable), e.g. MALLOC_ARENA_MAX=2")
    p.add_argument("--new-image-each-round", action="store_true",
                   help="upload a new image every round (Gradio then caches one more upload per request, until delete_cache)")
    p.add_argument("--poll", type=float, default=0.2, help="RSS polling interval in seconds (default 0.2)")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--keep", action="store_true", help="keep the work folder (inputs, server log, temp dirs)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.clients < 1 or args.rounds < 1 or args.timeout <= 0:
        print("error: --clients and --rounds must be >= 1 and --timeout > 0", file=sys.stderr)
        return 2
    try:
        res = run(args)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report(res)
    if args.json:
        atomic_write(args.json, json.dumps(res, indent=2))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
