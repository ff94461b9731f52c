"""Lossless / near-lossless pixel payloads: chunked, model-coded with rANS, with a fallback.

Payload layout (all integers little-endian; formats/aez.md §5.7 is the full spec):

    u8       layout version (1)
    u8       max_error K (0 = lossless)
    per chunk, in order:  u8 mode, uleb128 body length
    the chunk bodies, in order

Chunks: n = ceil(count / CHUNK) chunks, one more when that is odd and > 1; chunk i holds
images [floor(i * count / n), floor((i + 1) * count / n)).  A function of the count only,
so the bytes never depend on the thread count.

Modes: 0 = pixel model + rANS (body: u32 state per lane, then u16 words; a chunk of m
images runs on ceil(m / rounds) lanes in rounds = ceil(m / LANES) rounds),
1 = raw LZMA2 stream of the chunk's decoded pixels, 2 = the decoded pixels stored.
"""

import lzma
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import parallel

from ..errors import BadAezFile
from . import bins
from .model import TOTAL, load_default, normalize
from .rans import Decoder, Encoder, RansError

__all__ = [
    "encode_pixels",
    "decode_pixels",
    "model_name",
    "model_digest",
    "measure",
    "BadLosslessPayload",
    "CHUNK",
    "LAYOUT_VERSION",
]

LAYOUT_VERSION = 1
CHUNK = 8192  # most images per chunk
LANES = 1024  # most rANS lanes per chunk; a lane codes several images one after another
MODE_MODEL, MODE_LZMA, MODE_STORED = 0, 1, 2
TRY_FALLBACK_BITS = 1.25  # the encoder tries the fallbacks when the model spends more bit/px
BLOCK_POSITIONS = 28  # encoder: model evaluated for this many pixel positions at a time


class BadLosslessPayload(BadAezFile):
    """A lossless pixel payload is truncated, damaged or inconsistent with its header."""


def model_name(model=None):
    return (model or load_default()).name


def model_digest(model=None):
    """8-byte content digest of the pixel model (SHA-256 over its canonical serialization)."""
    return (model or load_default()).digest


def chunk_count(count):
    """ceil(count / CHUNK), made even from 2 on (so two cores share the chunks evenly)."""
    n = -(-count // CHUNK)
    return n + 1 if n > 1 and n % 2 else n


def chunk_spans(count):
    """(start, stop) of each chunk; a function of the image count only."""
    n = chunk_count(count)
    return [(i * count // n, (i + 1) * count // n) for i in range(n)]


def lane_layout(m):
    """(lanes, rounds) of a model chunk of m images: image j is coded on lane j mod lanes
    in round j // lanes; rounds = ceil(m / LANES), lanes = ceil(m / rounds)."""
    if m == 0:
        return 0, 0
    rounds = -(-m // LANES)
    return -(-m // rounds), rounds


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


# --- varints -------------------------------------------------------------------------------
def _uleb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_uleb(buf, pos):
    value = shift = 0
    for i in range(5):
        if pos + i >= len(buf):
            raise BadLosslessPayload(f"lossless payload: chunk table ends inside a length at byte {pos}")
        b = buf[pos + i]
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            if i and b == 0:
                raise BadLosslessPayload(f"lossless payload: non-minimal length at byte {pos}")
            return value, pos + i + 1
    raise BadLosslessPayload(f"lossless payload: length at byte {pos} is longer than 5 bytes")


# --- the model's code tables -----------------------------------------------------------------
class _Tables:
    """What the coder needs from the model for one max_error K.

    Pixels whose whole causal window is 0 ("inactive") have a model output that depends
    on their position only; those outputs are computed once per position here (with the
    same integer arithmetic, so the numbers are identical to evaluating the model).
    """

    def __init__(self, model, k):
        self.model = model
        self.k = k
        self.centres = bins.centres(k)
        self.binmat = None if k == 0 else bins.value_bin_matrix(k)
        npx = model.height * model.width
        h2 = model.hidden(np.zeros((npx, model.window.shape[0])), np.arange(npx))
        self.gate0 = model.gate_freq(h2)
        self.h2zero = h2
        if k == 0:
            self.high0 = normalize(model.high_weights(h2))
            self.low0 = normalize(model.all_low_weights(h2))
        else:
            self.bin0 = self.bin_freqs(h2)

    def bin_freqs(self, h2):
        """Near-lossless: frequencies (n, B - 1) of the bins 1..B-1 (exact integer rule)."""
        high = normalize(self.model.high_weights(h2))
        low = normalize(self.model.all_low_weights(h2))
        w = (high[:, :, None] * low).reshape(-1, 256)[:, 1:]
        return normalize((w.astype(np.float64) @ self.binmat).astype(np.int64))


class _Outputs:
    """Model outputs for one batch of pixels: gate for all, value tables on demand."""

    def __init__(self, tab, feats, pos):
        self.tab = tab
        self.n = feats.shape[0]
        self.pos = pos if np.ndim(pos) else np.full(self.n, pos)
        self.act = np.flatnonzero(feats.any(axis=1))
        self.gate = tab.gate0[self.pos]
        self.h2 = None
        if self.act.size:
            self.h2 = tab.model.hidden(feats[self.act], self.pos[self.act] if np.ndim(pos) else pos)
            self.gate[self.act] = tab.model.gate_freq(self.h2)

    def _split(self, rows):
        """For pixel *rows*: boolean 'active' and the index of each active row in h2."""
        if self.h2 is None:
            return np.zeros(rows.size, bool), None
        where = np.minimum(np.searchsorted(self.act, rows), self.act.size - 1)
        return self.act[where] == rows, where

    def high(self, rows):
        out = self.tab.high0[self.pos[rows]]
        hit, where = self._split(rows)
        if hit.any():
            out[hit] = normalize(self.tab.model.high_weights(self.h2[where[hit]]))
        return out

    def low(self, rows, high):
        out = self.tab.low0[self.pos[rows], high]
        hit, where = self._split(rows)
        if hit.any():
            out[hit] = normalize(self.tab.model.low_weights(self.h2[where[hit]], high[hit]))
        return out

    def bins(self, rows):
        out = self.tab.bin0[self.pos[rows]]
        hit, where = self._split(rows)
        if hit.any():
            out[hit] = self.tab.bin_freqs(self.h2[where[hit]])
        return out


def _pick(g, s):
    """(start, freq) of symbol s[i] in frequency row g[i]."""
    cum = np.cumsum(g, axis=1)
    r = np.arange(g.shape[0])
    f = g[r, s]
    return cum[r, s] - f, f


def _find(g, slot):
    """Decoder: symbol with start <= slot < start + freq in each row; (symbol, start, freq)."""
    cum = np.cumsum(g, axis=1)
    s = (cum <= slot[:, None]).sum(axis=1)
    r = np.arange(g.shape[0])
    f = g[r, s]
    return s, cum[r, s] - f, f


def _padded(model, n):
    return np.zeros((n, model.padded_shape[0] * model.padded_shape[1]), np.float64)


def _interior(model):
    """Flat index in the padded image of every pixel position, (H*W,)."""
    r = np.arange(model.height).repeat(model.width) + model.pad_top
    c = np.tile(np.arange(model.width), model.height) + model.pad_side
    return r * model.padded_width + c


def _symbol_tables(tab, images):
    """Per pixel: gate frequency of "0", and (start, freq) of each value step where nonzero.

    Value steps: K = 0: high nibble, then low nibble; K > 0: the bin.
    """
    model = tab.model
    n = images.shape[0]
    npx = model.height * model.width
    sym = bins.to_bins(images.reshape(n, npx), tab.k)
    rec = _padded(model, n)
    rec[:, _interior(model)] = tab.centres[sym]
    zero = sym == 0
    gate_f = np.empty((n, npx), np.int64)
    steps = 2 if tab.k == 0 else 1
    val_c = np.zeros((steps, n, npx), np.int64)
    val_f = np.zeros((steps, n, npx), np.int64)
    block = BLOCK_POSITIONS
    for p0 in range(0, npx, block):
        pos = np.arange(p0, min(p0 + block, npx))
        feats = rec[:, model.gather[pos]].reshape(n * pos.size, -1)
        out = _Outputs(tab, feats, np.tile(pos, n))
        gate_f[:, pos] = out.gate.reshape(n, pos.size)
        nz = np.flatnonzero(~zero[:, pos].ravel())
        if not nz.size:
            continue
        v = sym[:, pos].ravel()[nz]
        if tab.k == 0:
            picks = [_pick(out.high(nz), v >> 4), _pick(out.low(nz, v >> 4), v & 15)]
        else:
            picks = [_pick(out.bins(nz), v - 1)]
        for j, (c, f) in enumerate(picks):
            vc = np.zeros(n * pos.size, np.int64)
            vf = np.zeros(n * pos.size, np.int64)
            vc[nz], vf[nz] = c, f
            val_c[j][:, pos] = vc.reshape(n, pos.size)
            val_f[j][:, pos] = vf.reshape(n, pos.size)
    return zero, gate_f, val_c, val_f


def _ideal_bits(zero, gate_f, val_f):
    gf = np.where(zero, gate_f, TOTAL - gate_f)
    bits = np.log2(TOTAL / gf).sum()
    for vf in val_f:
        bits += np.log2(TOTAL / vf[~zero]).sum()
    return float(bits)


def _model_body(tab, images):
    """Body of a model chunk and the model's ideal code length of it in bits.

    Rounds are encoded last first (rANS runs backwards); the model's tables are computed
    one round at a time, so memory is bounded by LANES images whatever the chunk size.
    """
    m = images.shape[0]
    lanes, rounds = lane_layout(m)
    enc = Encoder(lanes)
    ideal = 0.0
    for r in range(rounds - 1, -1, -1):
        first, stop = r * lanes, min((r + 1) * lanes, m)
        zero, gate_f, val_c, val_f = _symbol_tables(tab, images[first:stop])
        ideal += _ideal_bits(zero, gate_f, val_f)
        gate_c = np.where(zero, 0, gate_f)
        gate_fs = np.where(zero, gate_f, TOTAL - gate_f)
        active = slice(0, stop - first)
        for p in range(zero.shape[1] - 1, -1, -1):
            nz = np.flatnonzero(~zero[:, p])
            if nz.size:
                for j in range(val_c.shape[0] - 1, -1, -1):
                    enc.put(nz, val_c[j][nz, p], val_f[j][nz, p])
            enc.put(active, gate_c[:, p], gate_fs[:, p])
    states, words = enc.finish()
    body = states.astype("<u4").tobytes() + words.astype("<u2").tobytes()
    return body, ideal


def _lzma_filters(nbytes):
    dict_size = max(4096, 1 << max(0, int(nbytes - 1).bit_length()))
    return [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": dict_size}]


def _encode_chunk(job):
    """(mode, body, ideal bits) of one chunk; *force* (tests, vectors) fixes the mode."""
    tab, images, force = job
    n, h, w = images.shape
    body, ideal = _model_body(tab, images)
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


def _encode(images, max_error, threads, model, force_modes=None):
    model = model or load_default()
    k = bins.check_max_error(max_error)
    images = _check_images(images, model)
    tab = _Tables(model, k)
    spans = chunk_spans(images.shape[0])
    force = force_modes or [None] * len(spans)
    coded = _map(_encode_chunk, [(tab, images[a:b], f) for (a, b), f in zip(spans, force)], threads)
    head = bytearray([LAYOUT_VERSION, k])
    for mode, body, _ in coded:
        head.append(mode)
        head += _uleb(len(body))
    payload = bytes(head) + b"".join(body for _, body, _ in coded)
    return payload, coded


def encode_pixels(images, max_error=0, threads=None, model=None):
    """Code uint8 images (N, H, W) into a self-delimiting payload.

    max_error 0 is lossless; K in 1..32 puts every pixel within +-K (near-lossless).
    The bytes depend on the images, max_error and model only, never on *threads*.
    """
    return _encode(images, max_error, threads, model)[0]


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


# --- decoding ------------------------------------------------------------------------------
def _decode_model_chunk(tab, body, m):
    model = tab.model
    lanes, rounds = lane_layout(m)
    if len(body) < 4 * lanes or (len(body) - 4 * lanes) % 2:
        raise BadLosslessPayload(
            f"lossless payload: model chunk of {m} images on {lanes} lanes has {len(body)} bytes, "
            f"need 4 per lane plus whole 16-bit words"
        )
    states = np.frombuffer(body, "<u4", lanes)
    words = np.frombuffer(body, "<u2", (len(body) - 4 * lanes) // 2, 4 * lanes)
    dec = Decoder(states, words)
    npx = model.height * model.width
    where = _interior(model)
    centres = tab.centres.astype(np.float64)
    out_pixels = np.empty((m, npx), np.uint8)
    for r in range(rounds):
        first, stop = r * lanes, min((r + 1) * lanes, m)
        n = stop - first
        if tab.k == 0:
            out_pixels[first:stop] = _decode_round_lossless(tab, dec, n)
            continue
        active = slice(0, n)
        rec = _padded(model, n)
        for p in range(npx):
            out = _Outputs(tab, rec[:, model.gather[p]], p)
            f0 = out.gate
            slot = dec.slots(active)
            zero = slot < f0
            dec.advance(active, slot, np.where(zero, 0, f0), np.where(zero, f0, TOTAL - f0))
            nz = np.flatnonzero(~zero)
            if not nz.size:
                continue
            if tab.k == 0:
                slot = dec.slots(nz)
                high, c, f = _find(out.high(nz), slot)
                dec.advance(nz, slot, c, f)
                slot = dec.slots(nz)
                low, c, f = _find(out.low(nz, high), slot)
                dec.advance(nz, slot, c, f)
                rec[nz, where[p]] = 16 * high + low
            else:
                slot = dec.slots(nz)
                s, c, f = _find(out.bins(nz), slot)
                dec.advance(nz, slot, c, f)
                rec[nz, where[p]] = centres[s + 1]
        out_pixels[first:stop] = rec[:, where]
    dec.check_end()
    return out_pixels


def _decode_round_lossless(tab, dec, n):
    """One round of a lossless model chunk on lanes 0..n-1: the hot loop, kept flat.

    The same arithmetic as _Outputs (the generic path), with fewer numpy calls per step.
    """
    model = tab.model
    npx = model.height * model.width
    rec = _padded(model, n)
    gather, where = model.gather, _interior(model)
    rowof = np.full(n, -1, np.intp)
    active = slice(0, n)
    for p in range(npx):
        feats = rec[:, gather[p]]
        act = feats.any(axis=1).nonzero()[0]
        f0 = np.full(n, tab.gate0[p], np.int64)
        if act.size:
            h2 = model.hidden(feats[act], p)
            f0[act] = model.gate_freq(h2)
        slot = dec.slots(active)
        zero = slot < f0
        dec.advance(active, slot, np.where(zero, 0, f0), np.where(zero, f0, TOTAL - f0))
        nz = (~zero).nonzero()[0]
        if not nz.size:
            continue
        rowof[act] = np.arange(act.size)
        r = rowof[nz]
        rowof[act] = -1
        hit = r >= 0
        if hit.all():
            hv = h2[r]
            gh = normalize(model.high_weights(hv))
        else:
            gh = np.repeat(tab.high0[p][None], nz.size, axis=0)
            if hit.any():
                hv = h2[r[hit]]
                gh[hit] = normalize(model.high_weights(hv))
        slot = dec.slots(nz)
        high, c, f = _find(gh, slot)
        dec.advance(nz, slot, c, f)
        if hit.all():
            gl = normalize(model.low_weights(hv, high))
        else:
            gl = tab.low0[p][high]
            if hit.any():
                gl[hit] = normalize(model.low_weights(hv, high[hit]))
        slot = dec.slots(nz)
        low, c, f = _find(gl, slot)
        dec.advance(nz, slot, c, f)
        rec[nz, where[p]] = 16 * high + low
    return rec[:, where]


def _decode_chunk(job):
    tab, mode, body, n, h, w = job
    try:
        if mode == MODE_MODEL:
            return _decode_model_chunk(tab, body, n).reshape(n, h, w)
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


def decode_pixels(payload, count, height, width, max_error=0, threads=None, model=None):
    """Decode a payload of :func:`encode_pixels` back to uint8 (count, height, width).

    Raises BadLosslessPayload (a BadAezFile) on any damage or inconsistency.
    """
    model = model or load_default()
    k = bins.check_max_error(max_error)
    buf = memoryview(bytes(payload)) if not isinstance(payload, (bytes, bytearray)) else payload
    for name, v in (("count", count), ("height", height), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {v!r}")
    if len(buf) < 2:
        raise BadLosslessPayload(f"lossless payload: {len(buf)} bytes, shorter than its 2-byte header")
    if buf[0] != LAYOUT_VERSION:
        raise BadLosslessPayload(f"lossless payload: layout version {buf[0]}, this aezip reads {LAYOUT_VERSION}")
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
        jobs.append((tab, mode, bytes(buf[pos : pos + length]), b - a, int(height), int(width)))
        pos += length
    parts = _map(_decode_chunk, jobs, threads)
    if not parts:
        return np.zeros((0, int(height), int(width)), np.uint8)
    return np.concatenate(parts)
