"""srcore.heap.trim_heap gives memory freed by worker threads back to the OS (what keeps the server's RSS flat)."""

from __future__ import annotations

import sys
import threading

import numpy as np
import psutil
import pytest

from srcore.heap import trim_heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_trim_heap_releases_what_threads_freed() -> None:
    proc = psutil.Process()
    keep: list[np.ndarray] = []

    def work() -> None:
        # interleaved mid-sized blocks, every other one kept: freed memory sits between live blocks
        # in the thread's arena, where free() alone cannot return it
        blocks = [np.ones(30_000) for _ in range(600)]
        keep.extend(blocks[1::8])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    before = proc.memory_info().rss
    assert trim_heap() is True
    after = proc.memory_info().rss
    assert after < before - 20 * 2**20, f"RSS {before >> 20} -> {after >> 20} MB"
    assert len(keep) == 4 * 75 and all(float(b[0]) == 1.0 for b in keep)  # live blocks untouched
