"""Compress the 70,000 MNIST digits into a Zarr store through Dask, on 1 and then 2 worker processes.

    python scripts/bench_dask.py --data ../shared/mnist [--quality 5] [--chunk 7000] [--out bench/dask.md]

Needs the [dask] extra.  Steps, each measured on a ``distributed.LocalCluster`` of 1 and
then 2 worker processes (one thread each, AEZIP_THREADS=1 so each process uses one core):

1. the digits (train then test, 70,000) are first stored uncompressed in a Zarr array
   (not timed), so the workers read their input from storage as they would on a cluster;
2. **write**: ``da.from_zarr(raw).to_zarr(path, serializer=AezipZarrCodec(...))``, one task
   per chunk, each chunk an .aez file;
3. **read**: ``da.from_zarr(aez)`` decoded on the workers and compared with the originals
   there (the squared error per chunk comes back, not the pixels);
4. (not timed) the decoded array comes back to this process and is compared, pixel for
   pixel, with ``aezip.decompress(aezip.compress(all 70,000))``.

Each worker loads the model once before the clock starts (a warm-up task); each timing is
the median of --repeat runs.  Prints and writes markdown: images/s, the speed-up from the
second process, bytes per image against ``aezip compress`` of the same images in one file,
and the PSNR against the API's.
"""

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import aezip
from aezip.idx import load_mnist

REPO = Path(__file__).resolve().parent.parent
SIDE = 28


def psnr_from_sse(sse, pixels):
    mse = sse / pixels
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def sse(a, b):
    d = (a.astype(np.int64) - b.astype(np.int64)).ravel()
    return float(d @ d)


def load_digits(folder):
    train, _ = load_mnist(folder, "train")
    test, _ = load_mnist(folder, "test")
    return np.concatenate([train, test])


def warm_worker(quality):
    """Load the model in this worker (the first call of a process pays for it)."""
    import aezip as a
    a.decompress(a.compress(np.zeros((1, SIDE, SIDE), np.uint8), quality=quality))
    return os.getpid()


def chunk_sse(decoded, original):
    return np.array([[[sse(decoded, original)]]])


def run_cluster(workers, raw_path, out_path, n, quality, chunk, repeat):
    import dask.array as da
    import distributed
    import zarr

    from aezip.zarr_codec import AezipZarrCodec

    env = {"AEZIP_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None, env=env) as cluster, \
            distributed.Client(cluster) as client:
        pids = client.run(warm_worker, quality)
        assert len(set(pids.values())) == workers
        threads = client.run(lambda: os.environ.get("AEZIP_THREADS"))
        assert set(threads.values()) == {"1"}, threads
        write_s, read_s = [], []
        total_sse = None
        for _ in range(repeat):
            shutil.rmtree(out_path, ignore_errors=True)
            # inline_array: each task opens the array itself; otherwise one task holds the
            # zarr.Array and the other worker waits to fetch it from a busy worker
            source = da.from_zarr(raw_path, inline_array=True)
            assert source.chunks[0][0] == chunk
            t = time.perf_counter()
            # to a path, not a zarr.Array: given an existing array, dask re-chunks to its
            # "auto" size (128 MiB), one task here, and the write runs on one worker
            with distributed.get_task_stream(client) as stream:
                source.to_zarr(str(out_path), serializer=AezipZarrCodec(quality=quality), compressors=None)
            write_s.append(time.perf_counter() - t)
            stores = [task for task in stream.data
                      if isinstance(task["key"], tuple) and str(task["key"][0]).startswith("store-map")]
            per_worker = {}
            for task in stores:
                busy = sum(s["stop"] - s["start"] for s in task["startstops"] if s["action"] == "compute")
                tasks, seconds = per_worker.get(task["worker"], (0, 0.0))
                per_worker[task["worker"]] = (tasks + 1, seconds + busy)

            t = time.perf_counter()
            back = da.from_zarr(out_path, inline_array=True)
            per_chunk = da.map_blocks(chunk_sse, back, da.from_zarr(raw_path, inline_array=True), dtype=float, chunks=(1, 1, 1))
            total_sse = float(per_chunk.sum().compute())
            read_s.append(time.perf_counter() - t)
        decoded = da.from_zarr(out_path, inline_array=True).compute()
    return statistics.median(write_s), statistics.median(read_s), total_sse, decoded, per_worker


def stored_bytes(path):
    chunks = [p for p in Path(path, "c").rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in chunks), len(chunks), (Path(path) / "zarr.json").stat().st_size


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("AEZIP_MNIST_DIR", str(REPO.parent / "shared" / "mnist")))
    ap.add_argument("--quality", type=int, default=5)
    ap.add_argument("--chunk", type=int, default=17500,
                    help="images per Zarr chunk (default 17,500: 4 chunks, 2 per worker of 2)")
    ap.add_argument("--sizes", type=int, nargs="*", default=[7000, 8750, 17500, 35000],
                    help="chunk sizes whose bytes/image are also measured (in this process)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", default=str(REPO / "bench" / "dask.md"))
    args = ap.parse_args()

    import dask
    import distributed
    import numcodecs
    import zarr

    images = load_digits(args.data)
    n = len(images)
    pixels = images.size

    t = time.perf_counter()
    api_bytes = aezip.compress(images, quality=args.quality)
    api_s = time.perf_counter() - t
    api_decoded = aezip.decompress(api_bytes)
    api_psnr = psnr_from_sse(sse(api_decoded, images), pixels)
    print(f"aezip.compress of all {n:,}: {len(api_bytes) / n:.3f} B/image, {api_psnr:.3f} dB "
          f"({api_s:.2f} s in-process, all cores)")

    # What the API makes of the same chunks, one call per chunk: the Dask result must equal it.
    per_chunk = [aezip.compress(images[i:i + args.chunk], quality=args.quality) for i in range(0, n, args.chunk)]
    chunk_decoded = np.concatenate([aezip.decompress(c) for c in per_chunk])
    sizes = {c: sum(len(aezip.compress(images[i:i + c], quality=args.quality)) for i in range(0, n, c))
             for c in args.sizes if c != args.chunk}
    sizes[args.chunk] = sum(map(len, per_chunk))
    load_before = os.getloadavg()[0]

    tmp = Path(tempfile.mkdtemp(prefix="aezip-dask-"))
    try:
        raw_path, out_path = tmp / "raw.zarr", tmp / "aez.zarr"
        raw = zarr.create_array(raw_path, shape=images.shape, chunks=(args.chunk, SIDE, SIDE), dtype="uint8",
                                compressors=None)
        raw[:] = images
        results = {}
        for workers in args.workers:
            w, r, total_sse, decoded, per_worker = run_cluster(workers, raw_path, out_path, n, args.quality, args.chunk,
                                                   args.repeat)
            chunk_bytes, n_chunks, meta = stored_bytes(out_path)
            results[workers] = dict(write=w, read=r, psnr=psnr_from_sse(total_sse, pixels),
                                    identical=bool(np.array_equal(decoded, chunk_decoded)),
                                    per_worker=sorted(per_worker.values(), reverse=True),
                                    differ=int((decoded != api_decoded).any(axis=(1, 2)).sum()),
                                    bytes=chunk_bytes, chunks=n_chunks, meta=meta)
            print(f"{workers} worker(s): write {n / w:,.0f} images/s, read {n / r:,.0f} images/s, "
                  f"{chunk_bytes / n:.3f} B/image in {n_chunks} chunks, "
                  f"{results[workers]['psnr']:.4f} dB, pixels = per-chunk API calls: {results[workers]['identical']}, "
                  f"images unlike one whole-file call: {results[workers]['differ']}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    load = (load_before, os.getloadavg()[0])
    lines = write_report(args, n, api_bytes, api_psnr, results, sizes, load,
                         dict(zarr=zarr.__version__, numcodecs=numcodecs.__version__, dask=dask.__version__,
                              distributed=distributed.__version__))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


def write_report(args, n, api_bytes, api_psnr, results, sizes, load, versions):
    api_bpi = len(api_bytes) / n
    one, *_ = results.values()
    lines = [
        f"# aezip on Dask: {n:,} MNIST digits into a Zarr store",
        "",
        "Command:",
        "",
        "    " + " ".join(["python", "scripts/bench_dask.py", *sys.argv[1:]]),
        "",
        f"Quality {args.quality}; Zarr v3 array ({n:,}, 28, 28) uint8 in chunks of {args.chunk:,} images "
        "(each chunk one .aez file, written by `aezip.zarr_codec.AezipZarrCodec`); "
        "`distributed.LocalCluster` with 1 thread per worker process and AEZIP_THREADS=1. "
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        + ", ".join(f"{k} {v}" for k, v in versions.items()) + ". "
        f"Median of {args.repeat} runs; the model is loaded in each worker before the clock starts. "
        f"Load average (1 min) before / after the cluster runs: {load[0]:.2f} / {load[1]:.2f} "
        "(other processes on the machine take cores from the workers).",
        "",
        "| workers | write images/s | read images/s | round trip images/s | bytes/image (chunks) | PSNR | "
        "pixels = per-chunk API |",
        "|---|---|---|---|---|---|---|",
    ]
    for workers, r in results.items():
        lines.append(f"| {workers} | {n / r['write']:,.0f} | {n / r['read']:,.0f} | "
                     f"{n / (r['write'] + r['read']):,.0f} | {r['bytes'] / n:.3f} | {r['psnr']:.4f} dB | "
                     f"{'yes' if r['identical'] else 'NO'} |")
    lines += ["", "Write tasks (one per chunk) per worker, and the seconds each worker spent in them (last run):", ""]
    for workers, r in results.items():
        lines.append(f"- {workers} worker(s): " + "; ".join(f"{t} task(s), {sec:.2f} s" for t, sec in r["per_worker"]))
    lines += ["", "| what | measured | target | met |", "|---|---|---|---|"]
    if len(results) >= 2:
        (w1, r1), (w2, r2) = list(results.items())[:2]
        for what, key in (("write", "write"), ("read", "read")):
            s = r1[key] / r2[key]
            lines.append(f"| speed-up, {what}, {w2} vs {w1} worker(s) | {s:.2f}x | >= 1.5x | {'yes' if s >= 1.5 else 'no'} |")
        s = (r1["write"] + r1["read"]) / (r2["write"] + r2["read"])
        lines.append(f"| speed-up, round trip, {w2} vs {w1} worker(s) | {s:.2f}x | >= 1.5x | {'yes' if s >= 1.5 else 'no'} |")
    over = one["bytes"] / len(api_bytes) - 1
    lines.append(f"| bytes/image, Zarr chunks vs one `aezip compress` file ({api_bpi:.3f}) | "
                 f"{one['bytes'] / n:.3f} ({over:+.2%}) | within 3 % | {'yes' if abs(over) <= 0.03 else 'no'} |")
    lines.append(f"| PSNR vs the API's, one file ({api_psnr:.4f} dB) | {one['psnr']:.4f} dB "
                 f"({one['psnr'] - api_psnr:+.4f}) | equal | {'yes' if round(one['psnr'], 2) == round(api_psnr, 2) else 'no'} "
                 "(to 0.01 dB) |")
    lines += ["", "Bytes per image against the chunk size (the same images, one `aezip.compress` per chunk):", "",
              "| images per chunk | chunks | bytes/image | vs one file |", "|---|---|---|---|"]
    for c in sorted(sizes):
        lines.append(f"| {c:,} | {-(-n // c)} | {sizes[c] / n:.3f} | {sizes[c] / len(api_bytes) - 1:+.2%} |")
    if len(sizes) > 1:
        fixed = (sizes[min(sizes)] - sizes[max(sizes)]) / (-(-n // min(sizes)) - -(-n // max(sizes)))
        limit = fixed / (0.03 * len(api_bytes) / n)
        lines += ["", f"Each chunk costs about {fixed:,.0f} bytes on top of its images (its header and section "
                  "lengths, one zstd block with its own Huffman table per code dimension, and the matches "
                  "zstd cannot take across chunks), so chunks of "
                  f"fewer than about {limit:,.0f} images cost more than 3 % over one file."]
    lines += [
        "",
        f"Bytes count the {one['chunks']} chunk files; the array's zarr.json adds {one['meta']} bytes once "
        f"({one['meta'] / n:.4f} B/image). "
        "Read = decode on the workers and compare with the originals there (only the squared error "
        "per chunk travels); afterwards, untimed, the whole decoded array came back and was compared "
        "pixel for pixel with `aezip.decompress(aezip.compress(chunk))` of each chunk (column "
        "'pixels = per-chunk API'). "
        f"Against one `aezip.compress` of all {n:,} images, {one['differ']} image(s) decode differently: "
        "a code that lands on a rounding boundary can round the other way when the batch is cut "
        "differently (float32 matrix products depend on the batch shape); hence the PSNR to 0.01 dB. "
        "On a real cluster only the `distributed.Client(...)` address changes.",
    ]
    return lines


if __name__ == "__main__":
    main()
