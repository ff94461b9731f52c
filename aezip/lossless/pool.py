"""Running the payload's chunks in parallel, each chunk's matrix products on one BLAS thread.

A chunk's coding is a loop of many small numpy calls: Python holds the GIL between them, so
two threads run it no faster than one (measured: slower).  Where it is safe, the chunks run
in forked worker processes instead; elsewhere in threads.  The chunks are a function of the
image count only, so the bytes are the same either way.
"""

import multiprocessing
import signal
import sys
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
    """[fn(item) for item in items], on up to *threads* workers (processes where safe)."""
    workers = min(_workers(threads), max(1, len(items)))
    with _OneBlasThread():
        if workers == 1:
            return [fn(it) for it in items]
        if _can_fork():
            return _map_processes(fn, items, workers)
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(fn, items))


def _can_fork():
    """Forking is safe here: Linux, this process has no other thread (a fork copies only the
    calling thread, and a lock another thread holds would stay held in the child), and it is
    not itself a daemonic worker (which may not have children)."""
    return (
        sys.platform.startswith("linux")
        and threading.active_count() == 1
        and "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


_JOBS = []  # (fn, items) of the running _map_processes: the forked workers inherit it


def _run_job(i):
    fn, items = _JOBS[-1]
    return fn(items[i])


def _worker_signals():
    """In a worker: Ctrl-C is the parent's to handle (it stops the workers); SIGTERM and
    SIGHUP end the worker (not the parent's clean-up handlers, which a fork copies)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)


def _map_processes(fn, items, workers):
    """_map on forked worker processes: only an index goes to a worker and only the result
    comes back (the jobs themselves are inherited); on any error or interrupt the workers
    are stopped (Pool.__exit__ terminates them)."""
    _JOBS.append((fn, items))
    try:
        with multiprocessing.get_context("fork").Pool(workers, initializer=_worker_signals) as pool:
            return pool.map(_run_job, range(len(items)), chunksize=1)
    finally:
        _JOBS.pop()
