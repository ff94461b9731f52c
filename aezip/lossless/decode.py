"""Decoding a lossless / near-lossless payload back to images, checking it on the way."""

import lzma

import numpy as np

from . import bins
from .layout import (
    LAYOUTS,
    MODE_LZMA,
    MODE_MODEL,
    MODE_STORED,
    BadLosslessPayload,
    _lzma_filters,
    _read_uleb,
    chunk_count,
    chunk_spans,
    groups_of,
    round_layout,
)
from .model import TOTAL, Evaluator, load_default
from .pool import _map, _workers
from .rans import Decoder, RansError
from .tables import _interior, _model_cols, _Tables, cum_cols, pick_spans

__all__ = ["decode_pixels"]


def _decode_model_chunk(tab, body, m, version):
    model = tab.model
    rounds, per_round, lanes = round_layout(m, version)
    if len(body) < 4 * lanes or (len(body) - 4 * lanes) % 2:
        raise BadLosslessPayload(
            f"lossless payload: model chunk of {m} images on {lanes} lanes has {len(body)} bytes, "
            f"need 4 per lane plus whole 16-bit words"
        )
    states = np.frombuffer(body, "<u4", lanes)
    words = np.frombuffer(body, "<u2", (len(body) - 4 * lanes) // 2, 4 * lanes)
    dec = Decoder(states, words)
    out_pixels = np.empty((m, model.height * model.width), np.uint8)
    for r in range(rounds):
        first, stop = r * per_round, min((r + 1) * per_round, m)
        out_pixels[first:stop] = _decode_round(tab, dec, stop - first, lanes)
    dec.check_end()
    return out_pixels


def _decode_round(tab, dec, n, lanes):
    """One round of n images of a model chunk: the hot loop, kept flat.

    The image is held position-major (padded pixels x images, uint8) so that a position's
    window is a few contiguous rows.  The model runs once per position over the whole round
    (its scratch buffers allocated once); the coder then decodes each step group by group
    (group g: the round's images g * lanes .. on lanes 0 ..).
    """
    model = tab.model
    npx = model.height * model.width
    rec = np.zeros((model.padded_shape[0] * model.padded_shape[1], n), np.uint8)
    window = np.empty((model.window.shape[0], n), np.uint8)
    ev = Evaluator(model, n)
    gather, where = model.gather, _interior(model)
    groups = groups_of(n, lanes)
    starts = [a for a, _ in groups]
    rowof = np.full(n, -1, np.intp)
    zero = np.empty(n, bool)
    f0 = np.empty(n, np.int64)
    for p in range(npx):
        np.take(rec, gather[p], axis=0, out=window)  # (F, n): the causal pixels
        act = np.flatnonzero(window.max(axis=0))
        f0.fill(tab.gate0[p])
        h2 = None
        if act.size:
            h2 = ev.hidden(window, act, p)  # (H2, act.size)
            f0[act] = model.gate_freq_t(h2)
        for a, b in groups:  # step 1: the gate, on every image
            x = dec.x[: b - a]
            slot = x & (TOTAL - 1)
            fa = f0[a:b]
            z = slot < fa
            zero[a:b] = z
            dec.advance(slice(0, b - a), slot, np.where(z, 0, fa), np.where(z, fa, TOTAL - fa))
        nz = np.flatnonzero(~zero)
        if not nz.size:
            continue
        hit, hv = _model_cols(rowof, act, h2, nz)
        cut = np.searchsorted(nz, starts).tolist() + [nz.size]
        if tab.k == 0:
            high = _decode_step(dec, tab.high_cols(p, nz.size, hit, hv), nz, starts, cut)
            low = _decode_step(dec, tab.low_cols(p, high, hit, hv), nz, starts, cut)
            rec[where[p], nz] = 16 * high + low
        else:
            s = _decode_step(dec, tab.bin_cols(p, nz.size, hit, hv), nz, starts, cut)
            rec[where[p], nz] = tab.centres[s + 1]
    return rec[where].T


def _decode_step(dec, g, nz, starts, cut):
    """Decode one symbol for each image in *nz* (sorted) from the frequency columns *g*
    (symbols, len(nz)) float64, group by group."""
    end = cum_cols(g)
    out = np.empty(nz.size, np.intp)
    for a, i0, i1 in zip(starts, cut, cut[1:]):
        if i1 > i0:
            lanes = nz[i0:i1] - a
            slot = dec.slots(lanes)
            s = (end[:, i0:i1] <= slot.astype(np.float64)).sum(axis=0)  # start <= slot < end
            c, f = pick_spans(g, end, s, np.arange(i0, i1))
            dec.advance(lanes, slot, c, f)
            out[i0:i1] = s
    return out


def _decode_chunk(job):
    tab, mode, body, n, h, w, version = job
    try:
        if mode == MODE_MODEL:
            return _decode_model_chunk(tab, body, n, version).reshape(n, h, w)
        size = n * h * w
        if mode == MODE_STORED:
            if len(body) != size:
                raise BadLosslessPayload(f"lossless payload: stored chunk has {len(body)} bytes, expected {size}")
            return np.frombuffer(body, np.uint8).reshape(n, h, w)
        if mode == MODE_LZMA:
            d = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_lzma_filters(size))
            out = d.decompress(body, max_length=size + 1)
            if len(out) != size or not d.eof or d.unused_data:
                raise BadLosslessPayload(
                    f"lossless payload: LZMA chunk gives {len(out)}{'+' if not d.eof else ''} bytes, expected {size}"
                )
            return np.frombuffer(out, np.uint8).reshape(n, h, w)
        raise BadLosslessPayload(f"lossless payload: unknown chunk mode {mode}")
    except RansError as e:
        raise BadLosslessPayload(f"lossless payload: {e}") from None
    except lzma.LZMAError as e:
        raise BadLosslessPayload(f"lossless payload: LZMA chunk is damaged ({e})") from None


def _chunk_jobs(payload, count, height, width, max_error, model):
    """Check the payload's header and chunk table (§5.7.4); return (spans, one job per chunk)."""
    model = model or load_default()
    k = bins.check_max_error(max_error)
    buf = payload if isinstance(payload, (bytes, bytearray)) else memoryview(payload).cast("B")
    for name, v in (("count", count), ("height", height), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {v!r}")
    if len(buf) < 2:
        raise BadLosslessPayload(f"lossless payload: {len(buf)} bytes, shorter than its 2-byte header")
    if buf[0] not in LAYOUTS:
        raise BadLosslessPayload(
            f"lossless payload: layout version {buf[0]}, this aezip reads {', '.join(map(str, LAYOUTS))}"
        )
    version = int(buf[0])
    if buf[1] != k:
        raise BadLosslessPayload(f"lossless payload: coded with max_error {buf[1]}, the header says {k}")
    if chunk_count(int(count)) * 2 > len(buf) - 2:
        raise BadLosslessPayload(
            f"lossless payload: {len(buf)} bytes cannot hold the chunk table of {count} images"
        )
    spans = chunk_spans(int(count))
    pos = 2
    table = []
    for _ in spans:
        if pos >= len(buf):
            raise BadLosslessPayload(f"lossless payload: chunk table ends at byte {pos}, {len(spans)} chunks expected")
        mode = buf[pos]
        if mode not in (MODE_MODEL, MODE_LZMA, MODE_STORED):
            raise BadLosslessPayload(f"lossless payload: unknown chunk mode {mode} at byte {pos}")
        length, pos = _read_uleb(buf, pos + 1)
        table.append((mode, length))
    if pos + sum(t[1] for t in table) != len(buf):
        raise BadLosslessPayload(
            f"lossless payload: chunk lengths add up to {pos + sum(t[1] for t in table)} bytes, payload has {len(buf)}"
        )
    if count and any(m == MODE_MODEL for m, _ in table) and (height, width) != (model.height, model.width):
        raise BadLosslessPayload(
            f"lossless payload: model-coded {height}x{width} images, the pixel model codes {model.height}x{model.width}"
        )
    tab = _Tables(model, k)
    jobs = []
    for (a, b), (mode, length) in zip(spans, table):
        jobs.append((tab, mode, buf[pos : pos + length], b - a, int(height), int(width), version))
        pos += length
    return spans, jobs


def decode_pixels(payload, count, height, width, max_error=0, threads=None, model=None):
    """Decode a payload of :func:`encode_pixels` back to uint8 (count, height, width).

    Raises BadLosslessPayload (a BadAezFile) on any damage or inconsistency.
    """
    parts = [images for _, _, images in iter_decode_pixels(payload, count, height, width, max_error, threads, model)]
    if not parts:
        return np.zeros((0, int(height), int(width)), np.uint8)
    return np.concatenate(parts)


def iter_decode_pixels(payload, count, height, width, max_error=0, threads=None, model=None):
    """(start, stop, images) of the payload's chunks, in order, a few at a time (as many as there
    are threads): memory stays bounded by a few chunks of 8,192 images, whatever the count.
    The whole chunk table is checked before the first chunk is decoded."""
    spans, jobs = _chunk_jobs(payload, count, height, width, max_error, model)
    step = max(1, _workers(threads))
    for i in range(0, len(jobs), step):
        parts = _map(_decode_chunk, jobs[i:i + step], threads)
        for (lo, hi), images in zip(spans[i:i + step], parts):
            yield lo, hi, images
