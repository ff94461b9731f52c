"""The coder's fast paths give the integers of the reference arithmetic (model.py), and the
worker processes give the bytes and the errors of one thread."""

import threading

import numpy as np
import pytest

from aezip import lossless
from aezip.errors import BadAezFile
from aezip.lossless import layout, pool
from aezip.lossless.model import Evaluator, PixelModel, load_default, normalize, normalize_cols
from aezip.lossless.tables import _interior

from helpers import sample_digits


@pytest.fixture(scope="module")
def digits():
    return sample_digits()[:40]


def _windows(model, images):
    """(position, uint8 window (F, n)) of every position of *images*, as the coder takes them."""
    n = images.shape[0]
    rec = np.zeros((model.padded_shape[0] * model.padded_shape[1], n), np.uint8)
    rec[_interior(model)] = images.reshape(n, -1).T
    for p in range(0, model.height * model.width, 7):
        yield p, rec[model.gather[p]]


def _check_evaluator(model, images):
    ev = Evaluator(model, images.shape[0])
    checked = 0
    for p, window in _windows(model, images):
        cols = np.flatnonzero(window.max(axis=0))
        if cols.size:
            want = model.hidden(window[:, cols].T.astype(np.float64), p)
            got = ev.hidden(window, cols, p)
            assert np.array_equal(got[:-1].T, want), p
            assert (got[-1] == 1).all()  # the ones row the heads' biases ride on
            checked += 1
    assert checked > 50


def test_evaluator_gives_the_reference_hidden_layers(digits):
    m = load_default()
    assert m.layer1_f32  # the bundled model takes the float32 path
    _check_evaluator(m, digits)


def test_evaluator_float64_fallbacks_give_the_same_integers(digits):
    m = load_default()
    arrays = dict(m.arrays)
    # a large p1 entry puts layer 1's bound above 2**24 (the float64 path for layer 1 and 2)
    arrays["p1"] = arrays["p1"].copy()
    arrays["p1"][0, 0] = 1 << 25
    big = PixelModel(arrays)
    assert not big.layer1_f32
    _check_evaluator(big, digits)
    # a large b2 keeps layer 1 in float32 but fails layer 2's per-batch bound
    arrays = dict(m.arrays)
    arrays["b2"] = arrays["b2"].copy()
    arrays["b2"][0] = -(1 << 24)
    wide = PixelModel(arrays)
    assert wide.layer1_f32 and wide.b2_absmax >= wide.f32_limit
    _check_evaluator(wide, digits)


def test_normalize_cols_is_the_normalize_rule():
    rng = np.random.default_rng(5)
    exp = load_default().arrays["exp"]
    for n in (2, 16, 255):
        w = exp[rng.integers(0, exp.size, (300, n))]
        w[:20] = w[:20, :1]  # rows of equal weights: the remainder goes to the first
        w[20:40, : n // 2] = exp.max()  # ties for the largest
        got = normalize_cols(w.T.astype(np.float64))
        assert np.array_equal(got.T.astype(np.int64), normalize(w)), n
        assert (got.sum(axis=0) == 1 << 16).all()


def test_head_weights_transposed_match_the_row_functions(digits):
    m = load_default()
    rng = np.random.default_rng(1)
    h2 = np.floor(rng.random((200, m.w2.shape[1])) * 900)
    high = rng.integers(0, 16, 200)
    h2t = np.vstack([h2.T, np.ones((1, 200))])  # with Evaluator.hidden's ones row
    assert np.array_equal(m.gate_freq_t(h2t), m.gate_freq(h2))
    assert np.array_equal(m.high_weights_t(h2t).T, m.high_weights(h2))
    w, order = m.low_weights_t(h2t, high)  # columns in high-nibble order
    assert np.array_equal(order, np.argsort(high, kind="stable"))
    assert np.array_equal(w.T, m.low_weights(h2, high)[order])
    w, order = m.low_weights_t(h2t, np.full(200, 7))  # one high nibble: the columns as given
    assert order is None and np.array_equal(w.T, m.low_weights(h2, np.full(200, 7)))


@pytest.fixture
def four_chunks(monkeypatch):
    monkeypatch.setattr(layout, "CHUNK", 12)  # 40 images -> 4 chunks
    monkeypatch.setitem(layout.LAYOUTS, layout.LAYOUT_VERSION, (5, 1))


def test_worker_processes_give_the_bytes_of_one_thread(digits, four_chunks):
    ref = lossless.encode_pixels(digits, threads=1)
    assert pool._can_fork()  # the test process has no other thread: the workers are processes
    assert lossless.encode_pixels(digits, threads=2) == ref
    assert np.array_equal(lossless.decode_pixels(ref, len(digits), 28, 28, threads=2), digits)


def test_beside_another_thread_the_chunks_run_in_threads(digits, four_chunks):
    ref = lossless.encode_pixels(digits, threads=1)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not pool._can_fork()
        assert lossless.encode_pixels(digits, threads=2) == ref
        assert np.array_equal(lossless.decode_pixels(ref, len(digits), 28, 28, threads=2), digits)
    finally:
        stop.set()
        other.join()


def test_a_worker_process_error_is_the_same_one_line_error(digits, four_chunks):
    payload = bytearray(lossless.encode_pixels(digits, threads=1))
    payload[-3] ^= 0x10  # damage the last chunk's words
    messages = []
    for t in (1, 2):
        with pytest.raises(BadAezFile) as e:
            lossless.decode_pixels(bytes(payload), len(digits), 28, 28, threads=t)
        assert type(e.value) is lossless.BadLosslessPayload
        messages.append(str(e.value))
    assert messages[0] == messages[1] and "\n" not in messages[0]
