"""``upscale --ray`` and ``bench --ray``: the same runs, spread over the workers of a Ray cluster.

Imported only when ``--ray`` is given (``import srcore`` and every other path never import Ray).

* **Workers** are Ray actors (:class:`SRWorker`), one per CPU by default: each imports srcore once
  and keeps every method it has run loaded (the registry caches networks per process), so a model is
  loaded once per worker, not once per image. They call the single-machine code itself:
  :func:`srcore.batch.upscale_file` for ``upscale`` and :func:`srcore.bench.score_item` for ``bench``,
  so outputs are byte-identical and scores equal to a run on one machine.
* **Files** are read and written by the workers at the paths the driver names, so input and output
  folders must be on storage every node sees at the same path (one machine, NFS, a mounted bucket).
  Outputs are written atomically (temporary name, then a rename; a killed worker's temporaries are
  swept at the end), and the driver records each finished one in the output folder's manifest
  (:mod:`srcore.manifest`), so a rerun skips outputs that still hash as recorded.
* **Failures**: a worker process that dies is restarted by Ray and its unfinished calls are
  retried (``max_task_retries``); a file that kills its worker every time, or cannot be read, is
  reported on one line and the run goes on.
* **Benchmarks**: the driver loads and degrades the dataset exactly as ``run_bench`` does, ships each
  (HR, LR) pair to the object store once, workers score, and the driver averages in image order with
  :func:`srcore.bench.method_summary` - the JSON is the single-machine one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import secrets
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import RayActorError, RayError

from srcore.errors import SRError

#: ``--ray`` given without an address: start (or join) a Ray instance on this machine.
LOCAL = "local"
#: Calls queued per worker, so a worker never waits for the driver between two images.
DEPTH = 2
#: Times a call is re-run after its worker process died (then the file is reported as failed).
TASK_RETRIES = 2
#: Verification of existing outputs is sent to workers in chunks of this many files.
VERIFY_CHUNK = 16


@dataclass
class RaySettings:
    """Where and how wide to run: the CLI's ``--ray [ADDRESS]``, ``--workers``, ``--worker-cpus``."""

    address: str = LOCAL
    workers: int | None = None  # default: one per ``worker_cpus`` CPUs of the cluster
    worker_cpus: float = 1.0
    models_dir: str | None = None  # the driver's --models-dir, applied on every worker
    backend: str | None = None  # the driver's --backend
    #: upload this checkout's srcore/ and assets/ to the workers (Ray runtime_env working_dir) instead of
    #: relying on the project being installed on every node
    ship_code: bool = False
    tta: bool | None = None  # the driver's --tta (None: the workers' default, off)
    #: SRCORE_* variables of the driver (models folder, pixel limit, backend), set on every worker
    env: dict[str, str] = field(default_factory=lambda: {k: v for k, v in os.environ.items() if k.startswith("SRCORE_")})


def connect(settings: RaySettings) -> bool:
    """Join ``settings.address`` (``local``: this machine; ``auto``; ``ray://host:port``); True when we started Ray here.

    ``--ship-code`` is a job-level runtime_env (Ray uploads a folder only for a whole job), so it is
    given here, and refused when the caller already connected this process to Ray.
    """
    address = settings.address
    if ray.is_initialized():  # a caller (a test, a notebook) already chose the cluster
        if settings.ship_code:
            raise SRError("--ship-code: Ray is already initialised in this process; pass runtime_env=ship_code_env() to your ray.init")
        return False
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False, "runtime_env": _runtime_env(settings)}
    try:
        if address in (None, "", LOCAL):  # "local": always a new instance, never a stale or foreign `ray start` one
            ray.init(address="local", include_dashboard=False, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        hint = "" if os.environ.get("RAY_AUTH_MODE") else "; a cluster with token authentication needs RAY_AUTH_MODE=token and its token"
        raise SRError(f"--ray {address}: cannot connect to a Ray cluster ({_first_line(exc)}{hint})") from None
    return True


def _first_line(exc: BaseException) -> str:
    """The first line of a Ray error without its terminal colour codes (Ray's messages are long and coloured)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


#: What ``--ship-code`` leaves out of the checkout it uploads: everything but srcore/ and assets/.
_SHIP_EXCLUDES = [".git", ".venv*", "app", "app.py", "train", "benchmarks", "tests", "docs", "runs", "out", "__pycache__", "*.pyc", "*.md"]


def ship_code_env() -> dict[str, Any]:
    """The Ray runtime_env of ``--ship-code``: this checkout's srcore/ and assets/ as the job's working_dir.

    For a caller that makes its own ``ray.init`` (a notebook, the tests): ``ray.init(runtime_env=ship_code_env())``.
    """
    from srcore.paths import REPO_ROOT

    return {"working_dir": str(REPO_ROOT), "excludes": _SHIP_EXCLUDES}


def _runtime_env(settings: RaySettings) -> dict[str, Any] | None:
    return ship_code_env() if settings.ship_code else None


@ray.remote(max_restarts=-1, max_task_retries=TASK_RETRIES)
class SRWorker:
    """One worker process: srcore set up as on the driver, methods loaded on first use and kept."""

    def __init__(self, settings: RaySettings, lpips: bool = False, lpips_net: str = "alex") -> None:
        os.environ.update(settings.env)
        import cv2

        # Ray sets OMP_NUM_THREADS (torch follows it); OpenCV's pool ignores it and would take every core,
        # oversubscribing a node that runs one worker per CPU.
        cv2.setNumThreads(max(1, round(settings.worker_cpus)))
        if settings.models_dir:
            from srcore.paths import use_models_dir

            use_models_dir(settings.models_dir)
        self.backend, self.tta = settings.backend, settings.tta
        self.lpips = (lpips, lpips_net)
        self._lpips: tuple[Any, str | None, dict[str, str]] | None = None

    def pid(self) -> int:
        """This worker's process id (tests kill it to check that Ray restarts the worker and retries)."""
        return os.getpid()

    def where(self) -> dict[str, Any]:
        """Where this worker's srcore and model assets come from (a ``--ship-code`` upload or the node's checkout)."""
        import srcore  # this process's import, not this (by-value pickled) method's __file__
        from srcore.paths import ASSETS_DIR, REPO_ROOT

        return {"srcore": str(Path(srcore.__file__).resolve().parent), "assets": ASSETS_DIR.is_dir(),
                "shipped": sorted(p.name for p in REPO_ROOT.iterdir() if not p.name.startswith("."))}

    def threads(self) -> dict[str, int]:
        """The torch and OpenCV thread counts this worker computes with (Ray sets OMP_NUM_THREADS = its CPUs)."""
        import cv2
        import torch

        return {"torch": torch.get_num_threads(), "opencv": cv2.getNumThreads()}

    def verify(self, jobs: list[tuple[str, str, dict[str, Any], dict[str, Any]]]) -> list[bool]:
        """For each (source, target, recipe, manifest record): is the target finished and unchanged?"""
        from srcore.manifest import is_done

        return [is_done(Path(t), Path(s), recipe, rec) for s, t, recipe, rec in jobs]

    def _context(self) -> contextlib.ExitStack:
        """The driver's --backend and --tta around a call (context variables do not cross processes)."""
        from srcore.backends import use_backend
        from srcore.tta import use_tta

        stack = contextlib.ExitStack()
        stack.enter_context(use_backend(self.backend))
        stack.enter_context(use_tta(self.tta))
        return stack

    def upscale(self, method_id: str, scale: int, tile: int | None, opts: dict[str, Any], src: str, target: str,
                tag: str, size: Any = None) -> dict[str, Any]:
        """Upscale one file into ``target``; errors come back as a one-line message, not an exception."""
        from srcore.batch import upscale_file
        from srcore.manifest import sha256_file
        from srcore.registry import get_method

        out: dict[str, Any] = {"pid": os.getpid(), "error": None, "notes": []}
        try:
            with self._context():
                out["notes"] = upscale_file(get_method(method_id), Path(src), Path(target), scale, tile, opts, tag, size=size)
            out["sha256"], out["source_sha256"] = sha256_file(Path(target)), sha256_file(Path(src))
        except SRError as exc:
            out["error"] = str(exc)
        except Exception as exc:  # a bug or an exotic file: reported for this file, the batch goes on
            out["error"] = f"{Path(src).name}: {type(exc).__name__}: {exc}"
        return out

    def lpips_info(self) -> tuple[str | None, dict[str, str]]:
        """The LPIPS variant label and skip reasons this worker scores with (loaded once)."""
        return self._lpips_setup()[1:]

    def score(self, method_id: str, opts: dict[str, Any], scale: int, tile: int | None, item: Any) -> dict[str, Any]:
        """Upscale and score one benchmark pair with the single-machine :func:`srcore.bench.score_item`."""
        from srcore.bench import score_item
        from srcore.registry import get_method

        fn, _, skip = self._lpips_setup()
        try:
            with self._context():
                row = score_item(get_method(method_id), item, scale, tile, None, opts, fn, skip)
        except SRError as exc:
            return {"pid": os.getpid(), "error": str(exc)}
        return {"pid": os.getpid(), "error": None, "scores": row}

    def _lpips_setup(self) -> tuple[Any, str | None, dict[str, str]]:
        if self._lpips is None:
            from srcore.bench import lpips_setup

            self._lpips = lpips_setup(*self.lpips)
        return self._lpips


Call = Callable[[Any], Any]  # actor handle -> ObjectRef


class WorkerPool:
    """A fixed set of :class:`SRWorker` actors and a queue that keeps each of them :data:`DEPTH` calls busy."""

    def __init__(self, settings: RaySettings, lpips: bool = False, lpips_net: str = "alex", jobs: int | None = None) -> None:
        """Start the workers (``jobs``: no more workers than there is work for) and wait until each is up."""
        cpus = float(settings.worker_cpus)
        if cpus <= 0:
            raise SRError(f"--worker-cpus must be positive, got {settings.worker_cpus}")
        room = max(1, int(ray.cluster_resources().get("CPU", 1) // cpus))
        n = room if settings.workers is None else settings.workers
        if n < 1:
            raise SRError(f"--workers must be at least 1, got {n}")
        if n > room:  # more would wait for CPUs that never come
            print(f"note: --workers {n} needs {n * cpus:g} CPUs, the cluster has room for {room} workers: using {room}", file=sys.stderr)
            n = room
        n = min(n, jobs) if jobs else n
        self.actors = [SRWorker.options(num_cpus=cpus).remote(settings, lpips, lpips_net) for _ in range(n)]
        try:
            #: process ids at start (a restarted worker reports a new one)
            self.pids: list[int] = ray.get([a.pid.remote() for a in self.actors])
        except RayError as exc:
            self.close()
            hint = "" if settings.ship_code else " (is srcore importable on every node? install it there, or use --ship-code)"
            raise SRError(f"Ray workers could not start: {_first_line(getattr(exc, 'cause', None) or exc)}{hint}") from None

    def close(self) -> None:
        for a in self.actors:
            ray.kill(a, no_restart=True)
        self.actors = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, calls: list[Call], on_result: Callable[[int, Any, Exception | None], None]) -> None:
        """Run every call on some worker; ``on_result(index, value, error)`` in the driver as each finishes."""
        queue = deque(enumerate(calls))
        pending: dict[Any, tuple[int, int]] = {}

        def submit(w: int) -> None:
            if queue:
                i, call = queue.popleft()
                pending[call(self.actors[w])] = (i, w)

        for _ in range(DEPTH):
            for w in range(len(self.actors)):
                submit(w)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i, w = pending.pop(ref)
                try:
                    value, error = ray.get(ref), None
                except RayError as exc:  # RayActorError: the worker died TASK_RETRIES + 1 times on this call
                    value, error = None, exc
                on_result(i, value, error)
                submit(w)


def _died(exc: Exception) -> str:
    what = "its Ray worker died" if isinstance(exc, RayActorError) else "the Ray call failed"
    return f"{what} {TASK_RETRIES + 1} times on this file ({type(exc).__name__})"


def upscale_on_ray(settings: RaySettings, method_id: str, scale: int, tile: int | None, opts: dict[str, Any],
                   files: list[Path], targets: list[Path], folder_mode: bool, pool: WorkerPool | None = None,
                   progress: Callable[[int, int, int | None], None] | None = None, size: Any = None) -> tuple[int, int]:
    """Upscale ``files`` into ``targets`` on Ray; print per-file lines as the CLI does; return (failed, kept).

    ``size``: the --outscale/--width/--height :class:`srcore.outscale.OutputSize` (None: native).
    ``kept``: outputs of an earlier run that the manifest and their SHA-256 show are finished (not redone).
    ``pool``: run on these workers instead of starting new ones (tests use it to reach a worker's pid);
    ``progress(done, total, pid)`` is called after each file, beside the progress bar, with the process id of
    the worker that wrote it (None for a failed file).
    """
    from tqdm import tqdm

    from srcore.manifest import append_entries, entry, read_manifest

    # workers resolve paths in their own working directory (another machine's, or a shipped checkout): send absolute ones
    files, targets = [f.absolute() for f in files], [t.absolute() for t in targets]

    # what made an output, as the manifest stores it (through JSON, so a rerun compares like with like)
    recipe = json.loads(json.dumps({"method": method_id, "scale": scale, "tile": tile, "options": dict(sorted(opts.items())),
                                    "backend": settings.backend or settings.env.get("SRCORE_BACKEND") or "torch",
                                    "tta": bool(settings.tta), "size": dataclasses.asdict(size) if size is not None else None}))
    folders = sorted({t.parent for t in targets})
    # a single file is just upscaled; a folder run keeps a manifest there and resumes from it
    records = {f: read_manifest(f) if folder_mode else {} for f in folders}
    started = connect(settings) if pool is None else False
    own = pool is None
    tag = f"srcore{secrets.token_hex(3)}"
    try:
        pool = pool or WorkerPool(settings, jobs=len(files))
        # 1. which outputs are already finished (hashing spread over the workers)
        candidates = [i for i, t in enumerate(targets) if t.is_file() and records[t.parent].get(t.name)]
        chunks = [candidates[k : k + VERIFY_CHUNK] for k in range(0, len(candidates), VERIFY_CHUNK)]
        kept: set[int] = set()

        def verified(ci: int, value: Any, error: Exception | None) -> None:
            if error is None:
                kept.update(i for i, ok in zip(chunks[ci], value, strict=True) if ok)

        pool.run([lambda a, c=c: a.verify.remote([(str(files[i]), str(targets[i]), recipe, records[targets[i].parent][targets[i].name])
                                                   for i in c]) for c in chunks], verified)
        todo = [i for i in range(len(files)) if i not in kept]
        if kept and folder_mode:
            print(f"resume: {len(kept)} of {len(files)} output(s) already finished (manifest + SHA-256), {len(todo)} to do", file=sys.stderr)
        # 2. the rest
        bar = tqdm(total=len(todo), disable=not folder_mode, unit="img", desc=f"{method_id} x{scale}")
        failures: list[str] = []

        def done(k: int, value: Any, error: Exception | None) -> None:
            i = todo[k]
            message = f"{files[i].name}: {_died(error)}" if error is not None else value["error"]
            for note in (value or {}).get("notes", []):
                tqdm.write(f"note: {files[i].name}: {note}", file=sys.stderr)
            if message:
                failures.append(message)
                tqdm.write(f"skipped: {message}", file=sys.stderr)
            elif folder_mode:
                append_entries(targets[i].parent, [entry(targets[i], files[i], recipe, value["source_sha256"], value["sha256"])])
            bar.update(1)
            if progress:
                progress(bar.n, len(todo), None if message else value["pid"])

        pool.run([lambda a, i=i: a.upscale.remote(method_id, scale, tile, opts, str(files[i]), str(targets[i]), tag, size) for i in todo], done)
        bar.close()
    finally:
        if own and pool is not None:
            pool.close()
        if started:
            ray.shutdown()
        from srcore.atomic import remove_partials

        for f in folders:  # what workers killed mid-write (or by Ctrl-C here) left; the driver sees the folders too
            remove_partials(f, tag)
    if failures and not folder_mode:
        raise SRError(failures[0])
    return len(failures), len(kept)


def bench_on_ray(settings: RaySettings, data: Path, scale: int, method_ids: list[str], limit: int | None = None,
                 lpips: bool = True, options: dict[str, dict[str, Any]] | None = None,
                 progress: Callable[[int, int, str], None] | None = None, tile: int | None = None,
                 lpips_net: str = "alex", degradation: Any = None, pool: WorkerPool | None = None) -> Any:
    """:func:`srcore.bench.run_bench` on Ray workers: same arguments, same :class:`~srcore.bench.BenchResult`."""
    from srcore.bench import BenchResult, degradation_record, load_dataset, method_summary
    from srcore.engine import resolve

    images = load_dataset(data, scale, limit, degradation)
    started = connect(settings) if pool is None else False
    own = pool is None
    try:
        pool = pool or WorkerPool(settings, lpips, lpips_net, jobs=len(images) * len(method_ids))
        variant, _ = ray.get(pool.actors[0].lpips_info.remote())
        runnable: dict[str, tuple[str, dict[str, Any]]] = {}  # result key (id or id@α) -> (method id, its options)
        skipped: dict[str, str] = {}
        for mid in method_ids:
            try:  # the verdict run_bench gives: srcore.engine.resolve on the driver
                ready = resolve(mid, scale, (options or {}).get(mid))
            except SRError as exc:
                skipped[mid] = str(exc)
                continue
            runnable[mid] = (ready.method.id, ready.options)
        refs = [ray.put(item) for item in images]
        jobs = [(mid, i) for mid in runnable for i in range(len(images))]
        rows: dict[str, list[Any]] = {mid: [None] * len(images) for mid in runnable}
        total, done = len(method_ids) * len(images), len(skipped) * len(images)
        errors: list[str] = []

        def finished(k: int, value: Any, error: Exception | None) -> None:
            nonlocal done
            mid, i = jobs[k]
            if error is not None or value["error"]:
                errors.append(f"{mid} on {images[i].name}: {_died(error) if error is not None else value['error']}")
            else:
                rows[mid][i] = value["scores"]
            done += 1
            if progress:
                progress(done, total, mid)

        pool.run([lambda a, m=m, i=i: a.score.remote(*runnable[m], scale, tile, refs[i]) for m, i in jobs], finished)
    finally:
        if own and pool is not None:
            pool.close()
        if started:
            ray.shutdown()
    if errors:  # run_bench stops at the first error; here every worker had its go, the first one is reported
        raise SRError(errors[0] + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
    results = {mid: method_summary(rows[mid]) for mid in runnable}
    return BenchResult(scale, variant, len(images), results, skipped, degradation_record(images))
