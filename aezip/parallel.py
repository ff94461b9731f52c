"""Spreading a batch over the cores: the fixed chunking and the thread pool that runs it.

The chunks are a function of the batch size only, so the output bytes never depend on
how many cores ran the work.
"""

import os
from concurrent.futures import ThreadPoolExecutor

from .errors import BadInput
from .infer import one_blas_thread

__all__ = ["CHUNK", "SPLIT_FROM", "chunk_spans", "map_chunks"]

CHUNK = 2048  # images per forward pass: bounds memory (60,000 images: 337 MB peak, 478 MB at 4096)
SPLIT_FROM = 512  # batches from this size on are cut into at least two chunks, one per core


def workers():
    """The threads a batch is coded on (see _workers); one rule for every coder."""
    return _workers()


def _workers():
    """Threads for a batch: $AEZIP_THREADS if set, else the cores this process may use (at most 8)."""
    env = os.environ.get("AEZIP_THREADS", "").strip()
    if env:
        if not env.isdigit() or not 1 <= int(env) <= 64:
            raise BadInput(f"AEZIP_THREADS={env!r} must be a whole number from 1 to 64")
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def chunk_spans(n):
    """(start, stop) of the chunks a batch of *n* images is coded in.

    An even number of equal chunks of at most CHUNK images, so two cores share them
    evenly; a function of *n* only, never of the machine, so that the output bytes do
    not depend on how many cores ran the work.
    """
    pieces = max(-(-n // CHUNK), 2 if n >= SPLIT_FROM else 1)
    pieces += pieces % 2 if pieces > 1 else 0
    size = -(-n // pieces) if n else 0
    return [(i, min(i + size, n)) for i in range(0, n, size)] if n else []


def map_chunks(work, n, progress=None):
    """Run ``work(start, stop)`` on every chunk of a batch of *n*, spread over the cores.

    Chunks run in threads (numpy releases the GIL in its products), each product on one
    BLAS thread.  *progress*, if given, is called in this thread with each chunk's size,
    in order.
    """
    spans = chunk_spans(n)
    workers = min(_workers(), len(spans))
    with one_blas_thread():
        if workers <= 1:
            for lo, hi in spans:
                work(lo, hi)
                if progress:
                    progress(hi - lo)
            return
        pool = ThreadPoolExecutor(workers, thread_name_prefix="aezip")
        try:
            futures = [pool.submit(work, lo, hi) for lo, hi in spans]
            for (lo, hi), future in zip(spans, futures):
                future.result()
                if progress:
                    progress(hi - lo)
        finally:
            # on an error or Ctrl-C, chunks not yet started are dropped, not run
            pool.shutdown(wait=True, cancel_futures=True)
