"""Encoding images into a lossless / near-lossless payload (layout.py has the byte layout)."""

import lzma

import numpy as np

from ..container_v2 import write_varint
from . import bins
from . import layout
from .layout import MODE_LZMA, MODE_MODEL, MODE_STORED, _lzma_filters, chunk_spans, groups_of, round_layout
from .model import TOTAL, Evaluator, load_default
from .pool import _map
from .rans import Encoder
from .tables import _interior, _model_cols, _Tables, cum_cols, pick_spans

__all__ = ["encode_pixels", "measure"]

TRY_FALLBACK_BITS = 1.25  # the encoder tries the fallbacks when the model spends more bit/px


def _pick(g, s):
    """(start, freq) of symbol s[i] in frequency column g[:, i] (g float64, integer valued)."""
    return pick_spans(g, cum_cols(g), s, np.arange(g.shape[1]))


def _symbol_tables(tab, images):
    """Per pixel, position-major (H*W, n): gate frequency of "0", and (start, freq) of each
    value step where the pixel is nonzero (uint16: every start and frequency is below 2**16).

    Value steps: K = 0: high nibble, then low nibble; K > 0: the bin.
    """
    model = tab.model
    n = images.shape[0]
    npx = model.height * model.width
    sym = bins.to_bins(images.reshape(n, npx), tab.k).T.astype(np.uint8)  # (H*W, n); B <= 256
    rec = np.zeros((model.padded_shape[0] * model.padded_shape[1], n), np.uint8)
    rec[_interior(model)] = tab.centres[sym]
    window = np.empty((model.window.shape[0], n), np.uint8)
    ev = Evaluator(model, n)
    steps = 2 if tab.k == 0 else 1
    gate_f = np.empty((npx, n), np.uint16)
    val_c = np.zeros((steps, npx, n), np.uint16)
    val_f = np.zeros((steps, npx, n), np.uint16)
    rowof = np.full(n, -1, np.intp)
    for p in range(npx):
        np.take(rec, model.gather[p], axis=0, out=window)  # (F, n): the causal pixels
        act = np.flatnonzero(window.max(axis=0))
        gate_f[p] = tab.gate0[p]
        h2 = None
        if act.size:
            h2 = ev.hidden(window, act, p)  # (H2, act.size)
            gate_f[p, act] = model.gate_freq_t(h2)
        nz = sym[p].nonzero()[0]
        if not nz.size:
            continue
        v = sym[p, nz]
        hit, hv = _model_cols(rowof, act, h2, nz)
        if tab.k == 0:
            high, low = v >> 4, v & 15
            picks = [_pick(tab.high_cols(p, nz.size, hit, hv), high),
                     _pick(tab.low_cols(p, high, hit, hv), low)]
        else:
            picks = [_pick(tab.bin_cols(p, nz.size, hit, hv), v - 1)]
        for j, (c, f) in enumerate(picks):
            val_c[j, p, nz] = c
            val_f[j, p, nz] = f
    return sym == 0, gate_f, val_c, val_f


def _ideal_bits(zero, gate_f, val_f):
    gf = np.where(zero, gate_f, TOTAL - gate_f.astype(np.int64))
    bits = np.log2(TOTAL / gf).sum()
    for vf in val_f:
        bits += np.log2(TOTAL / vf[~zero]).sum()
    return float(bits)


def _model_body(tab, images, version, ideal=True):
    """Body of a model chunk and the model's ideal code length of it in bits (None unless
    *ideal*: the logarithms cost about 4 % of the encoding).

    The model's tables do not depend on the coder's rounds: they are computed once for the
    whole chunk (at most CHUNK images, about 80 MB of tables at 8,192), since the wider the
    batch, the fewer numpy calls per image (8,000 images a call: 25 % less time per image
    than 1,000).  Rounds are encoded last first (rANS runs backwards).  Within a position the
    decoder runs: the gates group by group, then the first value step group by group, then
    the second; the encoder runs exactly the reverse.
    """
    m = images.shape[0]
    rounds, per_round, lanes = round_layout(m, version)
    enc = Encoder(lanes)
    zero_all, gate_all, val_c_all, val_f_all = _symbol_tables(tab, images)
    ideal = _ideal_bits(zero_all, gate_all, val_f_all) if ideal else None
    for r in range(rounds - 1, -1, -1):
        first, stop = r * per_round, min((r + 1) * per_round, m)
        zero, gate_f = zero_all[:, first:stop], gate_all[:, first:stop]
        val_c, val_f = val_c_all[:, :, first:stop], val_f_all[:, :, first:stop]
        groups = groups_of(stop - first, lanes)[::-1]
        starts = [a for a, _ in groups]
        for p in range(zero.shape[0] - 1, -1, -1):
            nz = (~zero[p]).nonzero()[0]
            if nz.size:
                cut = np.searchsorted(nz, starts).tolist()  # nz[cut[g]:] lie in groups[g] and later
                for j in range(val_c.shape[0] - 1, -1, -1):
                    vc = val_c[j, p, nz].astype(np.uint64)  # one conversion per step, not per group
                    vf = val_f[j, p, nz].astype(np.uint64)
                    end = nz.size
                    for (a, _), c in zip(groups, cut):
                        if end > c:
                            enc.put(nz[c:end] - a, vc[c:end], vf[c:end])
                        end = c
            # the gate: "0" spans 0 .. f0 - 1, nonzero f0 .. TOTAL - 1 (converted per position:
            # a position's 8,192 values stay in cache, the whole chunk's would not)
            f0 = gate_f[p].astype(np.uint64)
            gate_c = np.where(zero[p], 0, f0)
            gate_fs = np.where(zero[p], f0, TOTAL - f0)
            for a, b in groups:
                enc.put(slice(0, b - a), gate_c[a:b], gate_fs[a:b])
    states, words = enc.finish()
    body = states.astype("<u4").tobytes() + words.astype("<u2").tobytes()
    return body, ideal


def _encode_chunk(job):
    """(mode, body, ideal bits or None) of one chunk; *force* (tests, vectors) fixes the mode."""
    tab, images, force, want_ideal, version = job
    n, h, w = images.shape
    body, ideal = _model_body(tab, images, version, ideal=want_ideal)
    best = (len(body), MODE_MODEL, body)
    if force is not None or len(body) * 8 > TRY_FALLBACK_BITS * n * h * w:
        pixels = tab.centres[bins.to_bins(images, tab.k)].tobytes()
        packed = lzma.compress(pixels, format=lzma.FORMAT_RAW, filters=_lzma_filters(len(pixels)))
        options = [best, (len(packed), MODE_LZMA, packed), (len(pixels), MODE_STORED, pixels)]
        best = min(options) if force is None else options[force]
    return best[1], best[2], ideal


def _check_images(images, model):
    a = np.asarray(images)
    if a.dtype != np.uint8 or a.ndim != 3:
        raise ValueError(f"images must be a uint8 array (N, H, W), got {a.dtype} {a.shape}")
    if a.shape[1:] != (model.height, model.width):
        raise ValueError(
            f"the pixel model codes {model.height}x{model.width} images, got {a.shape[1]}x{a.shape[2]}"
        )
    return np.ascontiguousarray(a)


def _encode(images, max_error, threads, model, force_modes=None, ideal=True, version=None):
    """(payload, [(mode, body, ideal bits) per chunk]); *version* is the layout version to
    write (default layout.LAYOUT_VERSION; tests re-create older vectors with 1)."""
    model = model or load_default()
    k = bins.check_max_error(max_error)
    images = _check_images(images, model)
    tab = _Tables(model, k)
    spans = chunk_spans(images.shape[0])
    force = force_modes or [None] * len(spans)
    version = layout.LAYOUT_VERSION if version is None else version
    if version not in layout.LAYOUTS:
        raise ValueError(f"layout version must be one of {sorted(layout.LAYOUTS)}, got {version!r}")
    jobs = [(tab, images[a:b], f, ideal, version) for (a, b), f in zip(spans, force)]
    coded = _map(_encode_chunk, jobs, threads)
    head = bytearray([version, k])
    for mode, body, _ in coded:
        head.append(mode)
        head += write_varint(len(body))
    payload = bytes(head) + b"".join(body for _, body, _ in coded)
    return payload, coded


def encode_pixels(images, max_error=0, threads=None, model=None):
    """Code uint8 images (N, H, W) into a self-delimiting payload.

    max_error 0 is lossless; K in 1..32 puts every pixel within +-K (near-lossless).
    The bytes depend on the images, max_error and model only, never on *threads*.
    """
    return _encode(images, max_error, threads, model, ideal=False)[0]


def measure(model, images, max_error=0, threads=None):
    """Ideal (model) and real coded size of *images*: dict of bit/px and bytes/image."""
    payload, coded = _encode(images, max_error, threads, model)
    px = images.shape[0] * images.shape[1] * images.shape[2]
    ideal = sum(c[2] for c in coded)
    return {
        "ideal_bit_per_px": ideal / px,
        "coded_bit_per_px": 8 * len(payload) / px,
        "coded_bytes_per_image": len(payload) / images.shape[0],
        "payload_bytes": len(payload),
        "fallback_chunks": sum(c[0] != MODE_MODEL for c in coded),
        "chunks": len(coded),
    }
