"""``upscale --ray`` / ``bench --ray`` on a real local Ray cluster (2 CPUs): same bytes and JSON, resume, killed worker.

One module-scoped cluster (Ray's start-up is the slow part); the CLI joins it because Ray is
already initialised in this process, exactly as ``--ray auto`` joins a running cluster.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import ray
from PIL import Image

from srcore.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """2 CPUs; workers run srcore from Ray's upload of this checkout (``--ship-code``), as on nodes without SR Lab."""
    from srcore.distributed import ship_code_env

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=96 * 2**20,
             runtime_env=ship_code_env())
    try:
        yield
    finally:
        ray.shutdown()


def _images(folder: Path, astronaut: np.ndarray, n: int, size: tuple[int, int] = (48, 40), bad: bool = True) -> Path:
    """``n`` different ``size`` (w, h) crops, plus a non-image and an empty file when ``bad``."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    for i in range(n):
        Image.fromarray(astronaut[i * 23 : i * 23 + h, i * 31 : i * 31 + w]).save(folder / f"im{i:02d}.png")
    if bad:
        (folder / "bad.png").write_bytes(b"this is not a png")
        (folder / "empty.jpg").write_bytes(b"")
    return folder


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _pngs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def test_import_and_plain_cli_never_import_ray(tmp_path: Path, astronaut: np.ndarray) -> None:
    """Ray is optional at run time: ``import srcore`` and every path without --ray leave it unimported."""
    src = _images(tmp_path / "in", astronaut, 2, size=(64, 64), bad=False)
    code = f"""
import sys
import srcore
from srcore.cli import main
assert main(["methods", "--json"]) == 0
assert main(["upscale", {str(src)!r}, "-m", "bicubic", "-s", "2", "-o", {str(tmp_path / "out")!r}]) == 0
assert main(["bench", "--data", {str(src)!r}, "-s", "2", "-m", "bicubic", "--no-lpips"]) == 0
assert main(["upscale", {str(src)!r}, "-m", "bicubic", "-s", "2", "-o", {str(tmp_path / "o2")!r}, "--workers", "2"]) == 2
print("ray imported:", sorted(m for m in sys.modules if m == "ray" or m.startswith("ray.")))
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "ray imported: []" in proc.stdout
    assert "error: --workers/--worker-cpus/--ship-code need --ray" in proc.stderr


def test_workers_run_the_shipped_code(cluster: None, capsys: pytest.CaptureFixture[str]) -> None:
    """The cluster's job ships srcore/ and assets/ (``--ship-code``'s runtime_env): workers import srcore from Ray's
    copy, with the model assets and without tests/, app/, train/ - so every test here runs on shipped code."""
    from srcore.distributed import RaySettings, WorkerPool

    with WorkerPool(RaySettings(workers=1)) as pool:
        where = ray.get(pool.actors[0].where.remote())
    assert Path(where["srcore"]) != REPO / "srcore" and "working_dir" in where["srcore"]
    assert where["assets"] and {"assets", "srcore"} <= set(where["shipped"])
    assert not {"tests", "train", "app", "docs", "benchmarks"} & set(where["shipped"])
    # --ship-code is a job-level setting: refused in a process already connected to Ray, with one line
    assert main(["upscale", str(REPO / "docs"), "-m", "bicubic", "-s", "2", "-o", "/nonexistent", "--ray", "--ship-code"]) == 2
    assert "--ship-code: Ray is already initialised" in capsys.readouterr().err


def test_upscale_same_bytes_bad_files_reported(cluster: None, tmp_path: Path, astronaut: np.ndarray,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """espcn (OpenCV dnn) here; bicubic's bytes are compared by the benchmark smoke test below (2 workers)."""
    method = "espcn"
    src = _images(tmp_path / "in", astronaut, 5)
    code, out, err = _cli(["upscale", str(src), "-m", method, "-s", "2", "-o", str(tmp_path / "plain")], capsys)
    assert code == 0 and "wrote 5 image(s)" in out
    code, out, err = _cli(["upscale", str(src), "-m", method, "-s", "2", "-o", str(tmp_path / "ray"), "--ray"], capsys)
    assert code == 0, err
    assert f"wrote 5 image(s) to {tmp_path / 'ray'}; 2 skipped" in out
    plain, dist = _pngs(tmp_path / "plain"), _pngs(tmp_path / "ray")
    assert len(plain) == 5 and dist == plain  # same names, same bytes
    skipped = [line for line in err.splitlines() if "skipped:" in line]
    assert len(skipped) == 2 and any("bad.png: not an image file" in s for s in skipped) and any("empty.jpg" in s and "empty" in s for s in skipped)
    assert "Traceback" not in err
    left = sorted(p.name for p in (tmp_path / "ray").iterdir())
    assert left == sorted([*plain, ".srcore-manifest.jsonl"])  # no temporaries
    assert all((tmp_path / "ray" / n).stat().st_mode & 0o777 == 0o644 for n in dist)
    # --tta and --outscale reach the workers (context variables and options do not cross processes by themselves)
    extra = ["--tta", "--outscale", "3"]
    assert _cli(["upscale", str(src), "-m", method, "-s", "2", "-o", str(tmp_path / "plain-tta"), *extra], capsys)[0] == 0
    assert _cli(["upscale", str(src), "-m", method, "-s", "2", "-o", str(tmp_path / "ray-tta"), *extra, "--ray"], capsys)[0] == 0
    plain_tta = _pngs(tmp_path / "plain-tta")
    assert _pngs(tmp_path / "ray-tta") == plain_tta and plain_tta.keys() == plain.keys() and plain_tta != plain
    assert Image.open(tmp_path / "ray-tta" / "im00_espcn_x2.png").size == (144, 120)  # 48x40 at x3


def test_all_inputs_bad_exits_2_one_line_each(cluster: None, tmp_path: Path, astronaut: np.ndarray,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    src = _images(tmp_path / "in", astronaut, 0)
    code, out, err = _cli(["upscale", str(src), "-m", "bicubic", "-s", "2", "-o", str(tmp_path / "o"), "--ray"], capsys)
    assert code == 2 and "wrote 0 image(s)" in out and "2 skipped" in out
    assert sum("skipped:" in line for line in err.splitlines()) == 2 and "Traceback" not in err
    code, out, err = _cli(["upscale", str(src / "bad.png"), "-m", "bicubic", "-s", "2", "-o", str(tmp_path / "one.png"), "--ray"], capsys)
    assert code == 2 and err.strip().splitlines()[-1].startswith("error: bad.png: not an image file")
    assert not (tmp_path / "one.png").exists()


def test_resume_skips_verified_and_redoes_tampered(cluster: None, tmp_path: Path, astronaut: np.ndarray,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    src = _images(tmp_path / "in", astronaut, 6, bad=False)
    argv = ["upscale", str(src), "-m", "espcn", "-s", "2", "-o", str(tmp_path / "ray"), "--ray"]
    assert _cli(argv, capsys)[0] == 0
    first = _pngs(tmp_path / "ray")
    stamps = {n: (tmp_path / "ray" / n).stat().st_mtime_ns for n in first}
    code, out, err = _cli(argv, capsys)
    assert code == 0 and "wrote 0 image(s)" in out and "6 already done" in out and "resume: 6 of 6" in err
    assert {n: (tmp_path / "ray" / n).stat().st_mtime_ns for n in first} == stamps  # nothing rewritten
    # Tamper with one output so that it still decodes, has the right size and name: only the recorded SHA-256 can tell.
    victim = tmp_path / "ray" / "im03_espcn_x2.png"
    arr = np.asarray(Image.open(victim)).copy()
    arr[5, 5] ^= 1
    Image.fromarray(arr).save(victim)
    # A changed input is redone too: the manifest pins the input's SHA-256.
    Image.fromarray(np.ascontiguousarray(astronaut[100:140, 100:148])).save(src / "im00.png")
    code, out, err = _cli(argv, capsys)
    assert code == 0 and "wrote 2 image(s)" in out and "4 already done" in out
    redone = {victim.name, "im00_espcn_x2.png"}
    assert {n: b for n, b in _pngs(tmp_path / "ray").items() if n != "im00_espcn_x2.png"} == {n: b for n, b in first.items() if n != "im00_espcn_x2.png"}
    assert _pngs(tmp_path / "ray")["im00_espcn_x2.png"] != first["im00_espcn_x2.png"]
    assert {n: (tmp_path / "ray" / n).stat().st_mtime_ns for n in first if n not in redone} == {n: t for n, t in stamps.items() if n not in redone}


def test_killed_worker_is_restarted_and_run_completes(cluster: None, tmp_path: Path, astronaut: np.ndarray,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from srcore.batch import output_path
    from srcore.distributed import RaySettings, WorkerPool, upscale_on_ray

    src = _images(tmp_path / "in", astronaut, 12, bad=False)
    assert _cli(["upscale", str(src), "-m", "espcn", "-s", "2", "-o", str(tmp_path / "plain")], capsys)[0] == 0
    files = sorted(src.glob("*.png"))
    targets = [output_path(tmp_path / "ray", f, "espcn", 2) for f in files]
    killed: list[int] = []
    writers: list[int | None] = []
    with WorkerPool(RaySettings(workers=2)) as pool:
        assert len(pool.pids) == 2 and len(set(pool.pids)) == 2

        def kill_first_worker(done: int, total: int, pid: int | None) -> None:
            writers.append(pid)
            if not killed:  # after the first image, while worker 0 still has calls queued (Ray retries them)
                os.kill(pool.pids[0], signal.SIGKILL)
                killed.append(pool.pids[0])

        failed, kept = upscale_on_ray(RaySettings(), "espcn", 2, None, {}, files, targets, True, pool=pool, progress=kill_first_worker)
        restarted_pid = ray.get(pool.actors[0].pid.remote())
    assert killed and (failed, kept) == (0, 0)
    assert restarted_pid != killed[0]  # Ray restarted the worker in a new process ...
    assert restarted_pid in writers and None not in writers and len(writers) == 12  # ... which wrote some of the images
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)
    assert _pngs(tmp_path / "ray") == _pngs(tmp_path / "plain")
    assert not [p for p in (tmp_path / "ray").iterdir() if ".partial" in p.name]
    manifest = [json.loads(line) for line in (tmp_path / "ray" / ".srcore-manifest.jsonl").read_text().splitlines()]
    assert sorted(m["output"] for m in manifest) == sorted(t.name for t in targets)


def test_bench_json_identical_and_survives_killed_worker(cluster: None, tmp_path: Path, astronaut: np.ndarray, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    data = _images(tmp_path / "ds", astronaut, 3, size=(112, 104), bad=False)
    argv = ["bench", "--data", str(data), "-s", "4", "-m", "bicubic,srgan@0.5,no-such-method"]  # a torch GAN, an id@α spec
    # Torch sums in a thread-count-dependent order (LPIPS moves in the 9th digit), and a 1-CPU Ray worker runs 1 thread:
    # the single-machine reference is taken with 1 thread too, so equality below is exact.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        code, out_plain, err_plain = _cli([*argv, "--json", str(tmp_path / "plain.json")], capsys)
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    code, out_ray, err_ray = _cli([*argv, "--json", str(tmp_path / "ray.json"), "--ray", "--workers", "2"], capsys)
    assert code == 0, err_ray
    plain, dist = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("plain", "ray"))
    assert list(dist) == list(plain) and list(dist["results"]) == ["bicubic", "srgan@0.5"]
    for res in (plain, dist):
        for row in res["results"].values():
            assert row.pop("seconds_per_image") > 0
    assert dist == plain
    assert plain["lpips_variant"] and all(r["lpips"] is not None and r["niqe"] is not None for r in plain["results"].values())
    assert "skipped no-such-method" in err_ray
    # the printed table too, bar the s/image column
    assert [line.split()[:-1] for line in out_ray.splitlines()] == [line.split()[:-1] for line in out_plain.splitlines()]

    # A worker killed mid-benchmark: Ray restarts it, retries its calls, and the JSON is still the same.
    from srcore.distributed import RaySettings, WorkerPool, bench_on_ray

    killed: list[int] = []
    with WorkerPool(RaySettings(workers=2), lpips=True) as pool:

        def kill_first_worker(done: int, total: int, mid: str) -> None:
            if not killed:
                os.kill(pool.pids[0], signal.SIGKILL)
                killed.append(pool.pids[0])

        res = bench_on_ray(RaySettings(), data, 4, ["bicubic", "srgan@0.5", "no-such-method"], pool=pool, progress=kill_first_worker)
        restarted = ray.get(pool.actors[0].pid.remote())
    assert killed and restarted != killed[0]
    again = res.to_json()
    for row in again["results"].values():
        assert row.pop("seconds_per_image") > 0
    assert again == {k: v for k, v in plain.items() if k in again} and set(plain) - set(again) <= {"tta"}


def test_scaling_benchmark_smoke(cluster: None, tmp_path: Path) -> None:
    """benchmarks/ray_scaling.py at a tiny size: it runs, outputs match the plain run, the JSON has every figure."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import ray_scaling
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    out = tmp_path / "s.json"
    assert ray_scaling.main(["--methods", "bicubic", "--images", "4", "--size", "24", "--overhead-images", "8", "--rounds", "1", "--workers", "2", "--no-cli", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    row = res["methods"]["bicubic"]
    assert row["plain"]["images_per_s"] > 0 and row["plain_1_thread"]["images_per_s"] > 0 and "ray_1" not in row and row["ray_2"]["identical_to_plain"]
    assert row["ray_2"]["worker_threads"] == {"torch": 1, "opencv": 1}
    assert res["overhead"]["ray_call_roundtrip_ms"] > 0 and res["cpu"]
