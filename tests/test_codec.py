"""The Python API: compress/decompress, objects, headers, errors."""

import os
import subprocess
import sys

import numpy as np
import pytest

import aezip
from aezip import archive, cli, container, parallel
from aezip.codec import AezCompressor, AezDecompressor
from aezip.metrics import psnr
from helpers import sample_digits


@pytest.fixture(scope="module")
def digits():
    return sample_digits()


def test_roundtrip_shape_dtype_and_quality(digits):
    data = aezip.compress(digits)
    out = aezip.decompress(data)
    assert out.shape == digits.shape and out.dtype == np.uint8
    assert psnr(out, digits) > 15.0
    # 100 images: the header (8 bytes of quantization table per code dimension) adds ~3 B/image;
    # the Codes section alone stays near the 10,000-image rate (bench/codec.md)
    (start, end) = archive.section_spans(data)[0]
    assert end - start < 10 * len(digits)
    assert len(data) < 14 * len(digits)


def test_compress_is_deterministic(digits):
    assert aezip.compress(digits) == aezip.compress(digits.copy())
    assert aezip.compress(digits, quality=2) == AezCompressor(2).compress(digits)


def test_decode_is_reproducible_in_another_process(digits, tmp_path):
    """A fresh interpreter decoding on one thread gives the pixels this one decodes on all cores."""
    path = tmp_path / "d.aez"
    path.write_bytes(aezip.compress(digits))
    code = ("import sys, aezip; sys.stdout.buffer.write(aezip.decompress(open(sys.argv[1], 'rb').read()).tobytes())")
    env = dict(os.environ, AEZIP_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, env=env, check=True)
    there = np.frombuffer(out.stdout, np.uint8).reshape(digits.shape)
    assert np.array_equal(there, aezip.decompress(path.read_bytes()))
    assert psnr(there, digits) > 15.0


def test_quality_is_the_rate_knob(digits):
    sizes = [len(aezip.compress(digits, quality=q)) for q in range(1, 10)]
    assert sizes == sorted(sizes)
    assert sizes[0] < sizes[-1]
    p1 = psnr(aezip.decompress(aezip.compress(digits, quality=1)), digits)
    p9 = psnr(aezip.decompress(aezip.compress(digits, quality=9)), digits)
    assert p9 > p1


def test_names_are_stored(digits):
    names = [f"d/{i}.png" for i in range(len(digits))]
    data = aezip.compress(digits, names=names)
    arc = archive.read(data)
    assert arc.names == names
    assert aezip.read_header(data).has_names


def test_read_header_and_is_aez(digits, tmp_path):
    data = aezip.compress(digits, quality=3)
    h = aezip.read_header(data)
    name = aezip.zoo.LADDER[3][0]
    assert (h.count, h.height, h.width, h.quality, h.model_name) == (100, 28, 28, 3, name)
    assert h.model_id.startswith(name + "@") and len(h.model_digest) == 8
    p = tmp_path / "x.aez"
    p.write_bytes(data)
    assert aezip.read_header(p) == h
    with open(p, "rb") as f:
        assert aezip.read_header(f) == h
    assert aezip.is_aez(p) and aezip.is_aez(data)
    assert not aezip.is_aez(b"PK\x03\x04") and not aezip.is_aez(tmp_path / "missing")


def test_single_image_2d_is_accepted(digits):
    assert aezip.decompress(aezip.compress(digits[0])).shape == (1, 28, 28)


@pytest.mark.parametrize("bad,msg", [
    (np.zeros((2, 28, 28), np.float32), "must be uint8, got float32"),
    (np.zeros((2, 27, 28), np.uint8), r"shape \(N, 28, 28\), got \(2, 27, 28\)"),
    (np.zeros((0, 28, 28), np.uint8), "no images"),
])
def test_bad_images_raise_bad_input(bad, msg):
    with pytest.raises(aezip.BadInput, match=msg):
        aezip.compress(bad)


@pytest.mark.parametrize("q", [0, 10, 2.5, True, "5"])
def test_bad_quality(q, digits):
    with pytest.raises(aezip.BadInput, match="quality"):
        aezip.compress(digits, quality=q)


def test_names_count_must_match(digits):
    with pytest.raises(aezip.BadInput, match="3 names for 100 images"):
        aezip.compress(digits, names=["a", "b", "c"])


def test_error_family():
    assert issubclass(aezip.BadAezFile, OSError) and issubclass(aezip.BadAezFile, aezip.AezError)
    assert issubclass(aezip.UnsupportedVersion, aezip.BadAezFile)
    assert issubclass(aezip.UnknownModel, LookupError)


def test_not_an_aez_file_shows_the_magic():
    with pytest.raises(aezip.BadAezFile, match=r"not an \.aez file \(magic b'PK\\x03\\x04'"):
        aezip.decompress(b"PK\x03\x04" + b"\x00" * 60)


def test_unsupported_version(digits):
    data = bytearray(aezip.compress(digits[:2]))
    data[4] = 3
    with pytest.raises(aezip.UnsupportedVersion, match="version 3 .*reads versions 1 and 2"):
        aezip.decompress(bytes(data))


def _recrc(body):
    import zlib
    return body + container.TRAILER.pack(zlib.crc32(body))


def test_unknown_model_says_which_is_needed_and_which_exist(digits):
    data = bytearray(aezip.compress(digits[:2]))
    data[7:15] = b"\x01" * 8     # version 2: Model_Digest at offset 7 (formats/aez.md §4.1)
    with pytest.raises(aezip.UnknownModel, match=r"needs the model with digest 0101010101010101.*installed: .*mlp9@"):
        aezip.decompress(_recrc(bytes(data[:-4])))
    v1 = bytearray(container.pack(container.Header(1, 0, 5, 1, b"\x01" * 8, "rdf32", 2, 28, 28, 32, (0.0,) * 32,
                                                   (1.0,) * 32), np.zeros((2, 32), np.uint8)))
    with pytest.raises(aezip.UnknownModel, match=r"needs model rdf32@0101010101010101.*installed: .*mlp9@"):
        aezip.decompress(bytes(v1))


def test_huge_image_count_fails_fast():
    import struct
    import tracemalloc
    head = container.FIXED.pack(container.MAGIC, 1, 0, 5, 1, b"\0" * 8, 0xFFFFFFFF, 28, 28, 9, 4, 0)
    data = _recrc(head + b"mlp9" + b"\0" * 72 + struct.pack("<I", 0))
    tracemalloc.start()
    try:
        with pytest.raises(aezip.BadAezFile, match="image count 4294967295"):
            aezip.decompress(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20   # refused from the header: nothing sized by the claimed count was allocated


def test_objects_reuse_model(digits):
    comp, dec = AezCompressor(), AezDecompressor()
    for part in (digits[:10], digits[10:50]):
        assert dec.decompress(comp.compress(part)).shape == part.shape


def test_min_psnr_stores_poor_images_exactly(digits):
    noise = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    mix = np.concatenate([digits[:5], noise])
    data = aezip.compress(mix, min_psnr=30)
    out = aezip.decompress(data)
    arc = archive.read(data)
    assert set(arc.raw_index.tolist()) >= {5, 6, 7}
    for i in range(len(mix)):
        p = psnr(out[i:i + 1], mix[i:i + 1])
        assert p >= 30 or np.array_equal(out[i], mix[i])


def test_quantization_tables_pointing_outside_the_model_are_refused(digits):
    """An offset of 3e38 is finite, but every pixel would decode to NaN (issue 14): a table
    may only point into the model's range widened by its span (formats/aez.md §4.3), in a
    version 1 file as in a version 2 one (level 0); the error is one line."""
    model = aezip.zoo.get_model("rdf32")
    codes = np.zeros((5, model.latent_dim), np.uint8)
    v1 = container.pack(container.Header(1, 0, 0, 1, model.file_digest, "rdf32", 5, 28, 28, model.latent_dim,
                                         (3e38,) * model.latent_dim, (1.0,) * model.latent_dim), codes)
    from aezip import container_v2
    table = container_v2.QuantTable(1, (3e38,) * model.latent_dim, (1.0,) * model.latent_dim)
    body = container_v2.write_varint(2 * len(codes.tobytes())) + codes.tobytes()
    v2 = container_v2.pack(container_v2.HeaderV2(0, 0, 0, model.digest, 5, quant_table=table), body)
    for data in (v1, v2):
        with pytest.raises(aezip.BadAezFile, match="outside the model's range") as e:
            aezip.decompress(data)
        assert "\n" not in str(e.value)
    ok = aezip.compress(digits[:5], quality=5)
    assert aezip.decompress(ok).shape == (5, 28, 28)


def test_custom_step_stores_its_table_and_round_trips(digits):
    comp = AezCompressor(step=0.9)
    data = comp.compress(digits[:20])
    h = aezip.read_header(data)
    assert h.quality == 0 and h._v2.header.quant_table is not None
    np.testing.assert_array_equal(aezip.decompress(data), comp.decode(comp.encode(digits[:20])[0]))


@pytest.mark.parametrize("n", [0, 1, 511, 512, 2048, 2049, 10_000, 60_000])
def test_chunks_cover_the_batch_evenly(n):
    spans = parallel.chunk_spans(n)
    assert [i for lo, hi in spans for i in range(lo, hi)] == list(range(n))
    assert all(hi - lo <= parallel.CHUNK for lo, hi in spans)
    if n >= parallel.SPLIT_FROM:
        assert len(spans) % 2 == 0
        assert max(hi - lo for lo, hi in spans) - min(hi - lo for lo, hi in spans) <= len(spans)


def test_output_does_not_depend_on_the_number_of_cores(digits, monkeypatch):
    x = np.concatenate([np.roll(digits, k, axis=2) for k in range(-6, 6)])  # 1,200 digits: 2 chunks
    assert len(parallel.chunk_spans(len(x))) == 2
    monkeypatch.setattr(parallel, "_workers", lambda: 1)
    one = aezip.compress(x)
    one_out = aezip.decompress(one)
    monkeypatch.setattr(parallel, "_workers", lambda: 2)
    two = aezip.compress(x)
    assert one == two
    assert np.array_equal(aezip.decompress(two), one_out)


def test_an_error_in_a_chunk_reaches_the_caller(monkeypatch):
    def work(lo, hi):
        if lo:
            raise ValueError(f"chunk {lo}")
    monkeypatch.setattr(parallel, "_workers", lambda: 2)
    with pytest.raises(ValueError, match="chunk"):
        parallel.map_chunks(work, 4096)


def test_blas_thread_limit_is_lifted_afterwards(digits):
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    data = aezip.compress(np.concatenate([digits] * 6))
    aezip.decompress(data)
    assert blas_threads() == before


def test_aezip_threads_sets_the_worker_count(monkeypatch):
    monkeypatch.setenv("AEZIP_THREADS", "1")
    assert parallel._workers() == 1
    monkeypatch.setenv("AEZIP_THREADS", "3")
    assert parallel._workers() == 3
    for bad in ("0", "two", "-1", "1.5"):
        monkeypatch.setenv("AEZIP_THREADS", bad)
        with pytest.raises(aezip.BadInput, match="AEZIP_THREADS"):
            parallel._workers()


def test_an_error_stops_the_chunks_not_yet_started(monkeypatch):
    import threading
    ran = []
    lock = threading.Lock()

    def work(lo, hi):
        with lock:
            ran.append(lo)
        if lo == 0:
            raise KeyboardInterrupt
        threading.Event().wait(0.05)
    monkeypatch.setattr(parallel, "_workers", lambda: 2)
    with pytest.raises(KeyboardInterrupt):
        parallel.map_chunks(work, 40 * parallel.CHUNK)
    assert len(ran) < len(parallel.chunk_spans(40 * parallel.CHUNK))


@pytest.mark.parametrize("name", sorted(n for n, c in aezip.zoo.cards().items()
                                        if c.get("task", "reconstruct") == "reconstruct" and not c.get("retired")))
def test_every_codec_model_works_by_name_through_api_and_cli(name, digits, tmp_path):
    """--model NAME (issue 13: it failed for every model): the API and the CLI write an archive
    that names that model and decodes to what the model makes of the codes."""
    comp = AezCompressor(3, model=name)
    data = aezip.compress(digits[:8], quality=3, model=name)
    assert data == comp.compress(digits[:8])
    h = aezip.read_header(data)
    assert h.model_name == name and h.quality == 3
    np.testing.assert_array_equal(aezip.decompress(data), comp.decode(comp.encode(digits[:8])[0]))
    np.save(tmp_path / "x.npy", digits[:8])
    assert cli.run(["compress", str(tmp_path / "x.npy"), "--model", name, "-Q", "3", "-o", str(tmp_path / "m.aez"),
                    "-q", "--no-check"]) == 0
    assert aezip.read_header((tmp_path / "m.aez").read_bytes()).model_name == name
    assert cli.run(["test", str(tmp_path / "m.aez")]) == 0


def test_the_codes_window_grows_with_a_dimension_row():
    """Codes section: a 16 KB window up to 16,384 codes per dimension, then the row's size
    rounded up to a power of two, at most 128 KB (container.code_window_log)."""
    import zstandard

    from aezip import container

    assert [container.code_window_log(n) for n in (1, 10_000, 16_384, 16_385, 60_000, 70_000, 10**6)] == \
        [14, 14, 14, 15, 16, 17, 17]
    # rows whose second half repeats the first 20,000 bytes back: only a window over 16 KB sees it
    half = np.random.default_rng(0).integers(0, 256, (2, 20_000), dtype=np.uint8)
    rows = np.ascontiguousarray(np.concatenate([half, half], axis=1))
    frame = container.code_frame(rows)
    assert zstandard.ZstdDecompressor().decompress(frame) == rows.tobytes()
    assert len(frame) < 0.6 * rows.nbytes
