"""Infrastructure shared by the training loops: device/DDP set-up, atomic checkpoints, logging.

Kept deliberately plain (nanoGPT-style): no registries, no YAML, one function per concern.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from srcore.atomic import PARTIAL, atomic_path, atomic_write
from srcore.backends import CpuInfo, cpu_info


@dataclass
class Runtime:
    """Where and how this process trains: device, DDP rank/world, mixed precision."""

    device: torch.device
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    amp_dtype: torch.dtype | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def ddp(self) -> bool:
        return self.world_size > 1

    def autocast(self) -> torch.autocast:
        """The mixed-precision context of forward passes (disabled when AMP is off)."""
        return torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """Loss scaling, which only fp16 on CUDA needs (bf16/fp32 gradients do not underflow): a pass-through otherwise."""
        return torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16 and self.device.type == "cuda")

    def wrap(self, module: torch.nn.Module, sync_batchnorm: bool = False) -> torch.nn.Module:
        """``module`` as trained: DDP-wrapped when launched by torchrun, itself otherwise.

        ``sync_batchnorm``: on CUDA, BatchNorm statistics are synchronised across processes
        (a discriminator with BN would otherwise see per-GPU batches only).
        """
        if not self.ddp:
            return module
        from torch.nn.parallel import DistributedDataParallel  # lazy: only multi-process runs wrap the model

        cuda = self.device.type == "cuda"
        if sync_batchnorm and cuda:
            module = torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
        return DistributedDataParallel(module, device_ids=[self.local_rank] if cuda else None)


def setup_runtime(device: str = "auto", amp: str = "auto") -> Runtime:
    """Pick the device and start DDP when launched by ``torchrun`` (WORLD_SIZE > 1).

    ``amp``: ``auto`` = fp16 on CUDA (bf16 where supported), off on CPU; ``bf16``/``fp16``/``off`` force it.
    bf16 autocast on CPUs with AVX512-BF16 roughly halves step time, so it is offered there too.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but no CUDA device is visible")
    dev = torch.device(f"cuda:{local_rank}" if device == "cuda" else "cpu")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
        torch.backends.cudnn.benchmark = True
    if world > 1:
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    amp_dtype: torch.dtype | None
    if amp == "auto":
        amp_dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if dev.type == "cuda" else None
    elif amp == "off":
        amp_dtype = None
    else:
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    return Runtime(dev, rank, local_rank, world, amp_dtype)


def start_run(args: argparse.Namespace) -> tuple[Runtime, logging.Logger]:
    """The set-up every training loop begins with, in one place so the loops cannot drift apart:
    torch threads, device/AMP/DDP, the run log, leftovers of a killed run, per-rank seeds."""
    if args.threads:
        torch.set_num_threads(args.threads)
    rt = setup_runtime(args.device, args.amp)
    log = make_logger(args.out, rt.is_main)
    if rt.is_main and (n := remove_stale_temps(args.out)):
        log.info(f"removed {n} half-written checkpoint file(s) left by an interrupted run")
    if rt.is_main and (note := bf16_note(rt, cpu_info())):
        log.warning(note)
    seed_everything(args.seed + rt.rank)
    return rt, log


def bf16_note(rt: Runtime, cpu: CpuInfo) -> str | None:
    """A warning when bf16 autocast was asked for on a CPU that has to emulate it.

    bf16 only pays off on CPUs with AVX512-BF16 or AMX; elsewhere oneDNN converts every tensor and a
    step runs ~10x slower than fp32 (EDSR x4, 192-px patches, batch 8, 2 threads, AMD EPYC with AVX2
    only: 32 s a step vs 3.5 s in fp32), so a command copied from a faster machine should say so rather than crawl.
    """
    if rt.device.type != "cpu" or rt.amp_dtype is not torch.bfloat16 or cpu.bf16:
        return None
    return (f"--amp bf16 on a CPU without AVX512-BF16/AMX ({cpu.model}): bf16 is emulated here and about 10x "
            "slower than fp32; drop --amp (or use --amp off)")


def run_commands(config: dict[str, Any]) -> list[str]:
    """Every command that made a run, oldest first, from its ``config.json``.

    Runs recorded before the list existed hold a single ``command`` string; both shapes are read.
    """
    commands = config.get("commands")
    if isinstance(commands, list) and commands:
        return [str(c) for c in commands]
    return [config["command"]] if config.get("command") else []


def record_run(args: argparse.Namespace, prog: str, argv: list[str] | None, model_config: dict[str, Any], resumed: bool) -> None:
    """Write ``OUT/config.json``: the arguments, the model config and every invocation of the run.

    Why every invocation: a run resumed with other flags (a shorter schedule, a new loss weight)
    was made by all of its commands, and the model card must say how the weights were really
    made. ``command`` stays the latest one (what older readers take), ``commands`` lists them all.
    """
    command = f"python -m {prog} " + shlex.join(argv if argv is not None else sys.argv[1:])
    path = args.out / "config.json"
    earlier = json.loads(path.read_text()) if resumed and path.is_file() else {}
    record = {**vars(args), "model": model_config, "command": command, "commands": [*run_commands(earlier), command]}
    atomic_write(path, json.dumps(record, default=str, indent=2))


def teardown_runtime(rt: Runtime) -> None:
    if rt.ddp and dist.is_initialized():
        dist.destroy_process_group()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """RNG states as plain tensors/lists, so checkpoints load with ``weights_only=True``."""
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(mt), gauss],
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])


def atomic_save(obj: Any, path: Path) -> None:
    """Write ``obj`` with ``torch.save`` so that ``path`` is always a complete checkpoint.

    The data go to a temporary file in the same directory, are fsync'ed, then renamed over
    ``path``: a process killed mid-save (even SIGKILL) leaves the previous checkpoint intact.
    """
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


@torch.no_grad()
def ema_update(average: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """One step of the exponential moving average of ``model``'s parameters kept in ``average``.

    Why: the last steps of a run jitter around the optimum by the size of the learning rate; the average
    of the recent weights sits nearer it (Polyak averaging) and is what we validate and ship.
    """
    for e, q in zip(average.parameters(), model.parameters(), strict=True):
        e.lerp_(q.detach(), 1.0 - decay)


def remove_stale_temps(out: Path) -> int:
    """Delete half-written checkpoint temp files a killed run left behind (SIGKILL skips cleanup)."""
    n = 0
    if out.is_dir():
        for p in [*out.glob(".*.pt.*.tmp"), *out.glob(f".*{PARTIAL}.pt")]:  # mkstemp names (older runs), srcore.atomic's
            p.unlink(missing_ok=True)
            n += 1
    return n


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a training checkpoint; they hold only tensors and plain containers, so no pickle code runs."""
    return torch.load(path, map_location=map_location, weights_only=True)


def make_logger(out: Path, is_main: bool) -> logging.Logger:
    log = logging.getLogger(f"train.{out.name}")
    log.setLevel(logging.INFO)
    log.handlers.clear()
    log.propagate = False
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        fmt = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
        for h in (logging.FileHandler(out / "train.log"), logging.StreamHandler(sys.stderr)):
            h.setFormatter(fmt)
            log.addHandler(h)
    else:
        log.addHandler(logging.NullHandler())
    return log


class WallClock:
    """Training wall time that survives resumes (stored in the checkpoint)."""

    now = staticmethod(time.monotonic)

    def __init__(self, previous: float = 0.0) -> None:
        self.previous = previous
        self.start = self.now()

    def total(self) -> float:
        return self.previous + self.now() - self.start


class CpuClock(WallClock):
    """CPU seconds this process used (all its threads), surviving resumes.

    Why: an equal-time comparison on shared cores is only fair in CPU time; a run that shares its core
    with another job gets fewer steps per wall minute, not per CPU minute.
    """

    now = staticmethod(time.process_time)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") else model


def add_run_args(p: argparse.ArgumentParser, batch: int, val_every: int, ckpt_every: int, log_every: int) -> None:
    """Options every training loop shares: data, run folder, device/precision, resume and stopping."""
    p.add_argument("--data", type=Path, nargs="+", required=True, help="training image folders (searched recursively)")
    p.add_argument("--val", type=Path, help="validation folder (HR/ + LR/, or plain images)")
    p.add_argument("--val-limit", type=int, default=None, help="use only the first N validation images")
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, logs, TensorBoard events")
    p.add_argument("--batch", type=int, default=batch, help="patches per step, per process")
    p.add_argument("--patch", type=int, default=96, help="HR patch side in pixels")
    p.add_argument("--degrade", choices=["bicubic", "jpeg", "realistic"], default="bicubic",
                   help="how LR patches are made: bicubic (once, MATLAB-style), jpeg (bicubic + JPEG Q 30-95, per patch) "
                        "or realistic (Real-ESRGAN's second-order pipeline, per patch)")
    p.add_argument("--val-degrade", choices=["bicubic", "jpeg", "realistic"], default="bicubic",
                   help="validate on LR made from the HR images with this degradation (jpeg: Q 50; realistic: seed 0)")
    p.add_argument("--clean-share", type=float, default=0.0, help="with --degrade jpeg|realistic: share of clean bicubic patches")
    p.add_argument("--jpeg-share", type=float, default=0.0, help="with --degrade realistic: share of bicubic + JPEG patches")
    p.add_argument("--usm-target", action="store_true", help="train against unsharp-masked HR (Real-ESRGAN's USM targets)")
    p.add_argument("--lr-min", type=float, default=1e-6, help="learning rate at the end of the cosine schedule")
    p.add_argument("--val-every", type=int, default=val_every)
    p.add_argument("--ckpt-every", type=int, default=ckpt_every)
    p.add_argument("--log-every", type=int, default=log_every)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--amp", choices=["auto", "off", "bf16", "fp16"], default="auto",
                   help="mixed precision: auto = on for CUDA; bf16 also pays off on AVX512-BF16 CPUs")
    p.add_argument("--channels-last", action="store_true", help="NHWC memory layout (faster on recent GPUs)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0 = torch's default)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt: step, optimisers, schedules, RNG")
    p.add_argument("--stop-at", type=int, help="stop (with a checkpoint) at this step without changing the schedule")
    p.add_argument("--time-limit", type=float, help="stop (with a checkpoint) after this many minutes of this invocation")
