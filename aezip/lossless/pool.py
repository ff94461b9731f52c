"""Running the payload's chunks on threads (each chunk's small matrix products on one BLAS thread)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import parallel


def _workers(threads):
    """Threads for the chunks: *threads*, else what aezip.parallel uses ($AEZIP_THREADS or the cores)."""
    if threads is None:
        return parallel.workers()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a positive whole number, got {threads!r}")
    return int(threads)


_BLAS = {"depth": 0, "limiter": None}
_BLAS_LOCK = threading.Lock()


class _OneBlasThread:
    """Chunks run in threads; each chunk's small products on one BLAS thread."""

    def __enter__(self):
        with _BLAS_LOCK:
            if _BLAS["depth"] == 0:
                from threadpoolctl import threadpool_limits

                _BLAS["limiter"] = threadpool_limits(limits=1, user_api="blas")
            _BLAS["depth"] += 1

    def __exit__(self, *exc):
        with _BLAS_LOCK:
            _BLAS["depth"] -= 1
            if _BLAS["depth"] == 0:
                _BLAS["limiter"].restore_original_limits()
                _BLAS["limiter"] = None


def _map(fn, items, threads):
    workers = min(_workers(threads), max(1, len(items)))
    with _OneBlasThread():
        if workers == 1:
            return [fn(it) for it in items]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(fn, items))
