"""The numcodecs codec, the Zarr v3 codec and Dask on top (the [dask] extra).

Skips, saying why, when zarr / numcodecs / dask / distributed are not installed."""

import sys
import tomllib
from importlib import import_module

import numpy as np
import pytest

import aezip
from helpers import REPO, sample_digits

EXTRA = "install the [dask] extra (pip install 'aezip[dask]')"
numcodecs = pytest.importorskip("numcodecs", reason=f"numcodecs not installed: {EXTRA}")
zarr = pytest.importorskip("zarr", reason=f"zarr not installed: {EXTRA}")
if int(zarr.__version__.split(".")[0]) < 3:
    pytest.skip(f"zarr {zarr.__version__} has no v3 codecs: {EXTRA}", allow_module_level=True)

from aezip.numcodecs import AezipCodec  # noqa: E402
from aezip.zarr_codec import AezipZarrCodec  # noqa: E402


def api_roundtrip(x, quality, chunk):
    return np.concatenate([aezip.decompress(aezip.compress(x[i:i + chunk], quality=quality))
                           for i in range(0, len(x), chunk)])


@pytest.fixture(scope="module")
def digits():
    return sample_digits()  # 100 MNIST test digits


# ---- numcodecs ----------------------------------------------------------------------------

def test_numcodecs_codec_by_id_and_config(digits):
    codec = numcodecs.get_codec({"id": "aezip", "quality": 3})
    assert isinstance(codec, AezipCodec)
    assert codec.get_config() == {"id": "aezip", "quality": 3}
    assert AezipCodec.from_config(codec.get_config()).quality == 3
    data = codec.encode(digits)
    assert bytes(data) == aezip.compress(digits, quality=3)  # a chunk is an .aez file
    np.testing.assert_array_equal(codec.decode(data), aezip.decompress(data))
    out = np.zeros_like(digits)
    assert codec.decode(data, out=out) is out
    np.testing.assert_array_equal(out, aezip.decompress(data))


def test_numcodecs_codec_takes_a_flat_buffer(digits):
    codec = AezipCodec()
    assert bytes(codec.encode(digits.tobytes())) == aezip.compress(digits, quality=5)


@pytest.mark.parametrize("bad, message", [
    (dict(quality=0), "quality 0 must be an integer from 1 to 9"),
    (dict(quality="5"), "quality '5'"),
])
def test_numcodecs_codec_rejects_bad_quality(bad, message):
    with pytest.raises(aezip.BadInput, match=message):
        AezipCodec(**bad)


def test_numcodecs_codec_rejects_other_data():
    with pytest.raises(aezip.BadInput, match="dtype float32"):
        AezipCodec().encode(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(aezip.BadInput, match=r"chunk of shape \(2, 32, 32\)"):
        AezipCodec().encode(np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(aezip.BadAezFile, match="not an .aez file"):
        AezipCodec().decode(b"\x89PNG not an archive")


def test_zarr_v2_array_with_the_numcodecs_codec(tmp_path, digits):
    z = zarr.create_array(tmp_path / "v2.zarr", shape=digits.shape, chunks=(50, 28, 28), dtype="uint8",
                          zarr_format=2, compressors=AezipCodec(quality=5), filters=None)
    z[:] = digits
    back = zarr.open_array(tmp_path / "v2.zarr", mode="r")
    np.testing.assert_array_equal(back[:], api_roundtrip(digits, 5, 50))


# ---- Zarr v3 ------------------------------------------------------------------------------

def make_v3(path, shape, chunk, quality=5):
    return zarr.create_array(path, shape=shape, chunks=(chunk, 28, 28), dtype="uint8",
                             serializer=AezipZarrCodec(quality=quality), compressors=None)


def test_zarr_v3_chunks_are_aez_files(tmp_path, digits):
    z = make_v3(tmp_path / "d.zarr", digits.shape, 25, quality=9)
    z[:] = digits
    assert z.metadata.to_dict()["codecs"][0] == {"name": "aezip", "configuration": {"quality": 9}}
    chunk = (tmp_path / "d.zarr" / "c" / "1" / "0" / "0").read_bytes()
    assert chunk == aezip.compress(digits[25:50], quality=9)
    reopened = zarr.open_array(tmp_path / "d.zarr", mode="r")  # the codec found by its name
    np.testing.assert_array_equal(reopened[:], api_roundtrip(digits, 9, 25))
    np.testing.assert_array_equal(reopened[30:33], api_roundtrip(digits, 9, 25)[30:33])


def test_zarr_v3_refuses_a_plain_numcodecs_codec_as_serializer(tmp_path):
    with pytest.raises((TypeError, ValueError), match="ArrayBytesCodec"):
        zarr.create_array(tmp_path / "x.zarr", shape=(10, 28, 28), chunks=(5, 28, 28), dtype="uint8",
                          serializer=AezipCodec())


def test_zarr_v3_codec_config_round_trip():
    codec = AezipZarrCodec(quality=2, min_psnr=30)
    assert codec.to_dict() == {"name": "aezip", "configuration": {"quality": 2, "min_psnr": 30.0}}
    assert AezipZarrCodec.from_dict(codec.to_dict()) == codec
    assert AezipZarrCodec.from_dict({"name": "aezip"}) == AezipZarrCodec(quality=5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(shape=(10, 28, 28), chunks=(5, 14, 28), dtype="uint8"), r"chunk shape \(5, 14, 28\)"),
    (dict(shape=(10, 32, 32), chunks=(5, 32, 32), dtype="uint8"), r"array shape \(10, 32, 32\)"),
    (dict(shape=(10, 28, 28), chunks=(5, 28, 28), dtype="float32"), "data type"),
])
def test_zarr_v3_codec_refuses_arrays_it_cannot_store(tmp_path, kwargs, message):
    with pytest.raises(aezip.BadInput, match=message):
        zarr.create_array(tmp_path / "x.zarr", serializer=AezipZarrCodec(), compressors=None, **kwargs)


def test_partial_chunk_write_re_encodes_the_chunk(tmp_path, digits):
    """The documented caveat: writing part of a chunk re-encodes the images already in it."""
    z = make_v3(tmp_path / "p.zarr", (50, 28, 28), 50)
    z[:] = digits[:50]
    once = z[:]
    z[0:1] = digits[:1]  # rewrite one image: the other 49 go through the codec a second time
    twice = z[:]
    np.testing.assert_array_equal(twice[1:], aezip.decompress(aezip.compress(once[1:])))


def test_entry_points_name_these_classes():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    groups = project["entry-points"]
    for group, cls in (("numcodecs.codecs", AezipCodec), ("zarr.codecs", AezipZarrCodec)):
        module, _, name = groups[group]["aezip"].partition(":")
        assert getattr(import_module(module), name) is cls
    assert {"zarr", "numcodecs", "dask", "distributed"} <= {
        r.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip() for r in project["optional-dependencies"]["dask"]}


# ---- Dask ---------------------------------------------------------------------------------

def test_dask_writes_and_reads_the_zarr_array(tmp_path, digits):
    da = pytest.importorskip("dask.array", reason=f"dask not installed: {EXTRA}")
    x = da.from_array(digits, chunks=(20, 28, 28))
    x.to_zarr(str(tmp_path / "k.zarr"), serializer=AezipZarrCodec(quality=5), compressors=None,
              compute=False).compute(scheduler="threads")
    back = da.from_zarr(tmp_path / "k.zarr")
    assert back.chunks[0] == (20,) * 5 and back.dtype == np.uint8
    np.testing.assert_array_equal(back.compute(scheduler="threads"), api_roundtrip(digits, 5, 20))


def test_dask_on_a_local_cluster_of_processes(tmp_path, digits):
    pytest.importorskip("dask.array", reason=f"dask not installed: {EXTRA}")
    distributed = pytest.importorskip("distributed", reason=f"distributed not installed: {EXTRA}")
    import dask.array as da
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        # the worker runs this checkout's aezip, as the test process does
        client.run(lambda path: sys.path.insert(0, path), str(REPO))
        da.from_array(digits, chunks=(50, 28, 28)).to_zarr(make_v3(tmp_path / "c.zarr", digits.shape, 50))
        back = da.from_zarr(tmp_path / "c.zarr").compute()
        # into a path: one store task per chunk, spread over the workers
        with distributed.get_task_stream(client) as stream:
            da.from_array(digits, chunks=(25, 28, 28)).to_zarr(str(tmp_path / "p.zarr"), serializer=AezipZarrCodec(),
                                                               compressors=None)
        stores = {t["key"] for t in stream.data
                  if isinstance(t["key"], tuple) and str(t["key"][0]).startswith("store-map")}
        assert len(stores) == 4, stores  # one task per chunk, not one for the whole array
    np.testing.assert_array_equal(da.from_zarr(tmp_path / "p.zarr").compute(scheduler="threads"),
                                  api_roundtrip(digits, 5, 25))
    np.testing.assert_array_equal(back, api_roundtrip(digits, 5, 50))
