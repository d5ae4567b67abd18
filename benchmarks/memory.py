"""Timing and peak-resident-memory probes shared by the benchmark scripts.

Peak memory is sampled from ``/proc/self/statm`` by a background thread every 2 ms and reported
as the peak above the resident size when the measured block started, so two phases of one
process can be compared (each phase frees what it made before the next starts).
"""

from __future__ import annotations

import gc
import os
import threading
import time
from contextlib import contextmanager

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * _PAGE


def release_memory() -> None:
    """Return freed memory to the OS so the next phase starts from a comparable baseline."""
    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # pragma: no cover - not glibc
        pass


class Measurement:
    seconds: float = 0.0
    peak_bytes: int = 0


@contextmanager
def measure():
    """``with measure() as m: ...`` then ``m.seconds`` and ``m.peak_bytes`` (above the start)."""
    release_memory()
    result = Measurement()
    start_rss = rss_bytes()
    peak = [start_rss]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - start
        peak[0] = max(peak[0], rss_bytes())
        stop.set()
        thread.join()
        result.peak_bytes = peak[0] - start_rss
