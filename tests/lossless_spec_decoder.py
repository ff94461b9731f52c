"""A decoder for the lossless pixel payload written from formats/aez.md §5.7 alone.

Deliberately independent of aezip.lossless: plain Python integers and int64 numpy, one lane
and one symbol at a time.  Slow, and only meant for the small test vectors.
"""

import hashlib
import lzma

import numpy as np

NAMES = ["window", "w1", "p1", "w2", "b2", "wg", "bg", "wc", "bc", "wf", "bf", "sig", "exp", "shape"]


def digest(arrays):
    out = bytearray(b"AEZPIX1\0")
    for name in NAMES:
        a = np.asarray(arrays[name])
        out += np.array([a.ndim, *a.shape], "<u4").tobytes()
        out += a.astype("<i4").tobytes()
    return hashlib.sha256(bytes(out)).digest()[:8]


def fdiv(a, s):
    return a >> s  # numpy int64 / Python int right shift floors


def network(m, x, p):
    a1 = x @ m["w1"] + m["p1"][p]
    h1 = np.clip(fdiv(a1, 10), 0, 4095)
    a2 = h1 @ m["w2"] + m["b2"]
    h2 = np.clip(fdiv(a2, 10), 0, 4095)
    zg = int(h2 @ m["wg"] + m["bg"][0])
    zc = h2 @ m["wc"] + m["bc"]
    zf = (h2 @ m["wf"] + m["bf"]).reshape(16, 16)
    return zg, zc, zf


def weights(m, z):
    top = max(int(v) for v in z)
    e = m["exp"]
    return [int(e[min((top - int(v)) >> 13, len(e) - 1)]) for v in z]


def normalize(w):
    n, s = len(w), sum(w)
    g = [1 + (wi * (65536 - n)) // s for wi in w]
    j = w.index(max(w))
    g[j] += 65536 - sum(g)
    return g


def bins_of(k):
    """(bin index of each value 0..255, centre of each bin)."""
    if k == 0:
        return list(range(256)), list(range(256))
    b = 2 + -(-(254 - 2 * k) // (2 * k + 1))
    idx = []
    for v in range(256):
        if v <= k:
            idx.append(0)
        elif v >= 255 - k:
            idx.append(b - 1)
        else:
            idx.append(1 + (v - k - 1) // (2 * k + 1))
    centres = [min(s * (2 * k + 1), 254 - k) for s in range(b - 1)] + [255]
    return idx, centres


class Lanes:
    def __init__(self, states, words):
        self.x = [int(s) for s in states]
        self.words = [int(w) for w in words]
        self.pos = 0

    def decode(self, lane, freqs):
        x = self.x[lane]
        slot = x & 0xFFFF
        c = 0
        for s, g in enumerate(freqs):
            if slot < c + g:
                break
            c += g
        x = g * (x >> 16) + slot - c
        if x < 1 << 16:
            if self.pos >= len(self.words):
                raise ValueError("words run out")
            x = (x << 16) | self.words[self.pos]
            self.pos += 1
        self.x[lane] = x
        return s


LAYOUTS = {1: (1024, 1), 2: (8192, 8)}  # layout version -> (ROUND, GROUPS), §5.7.2


def decode_model_chunk(m, body, count, k, round_size=1024, groups=1):
    rounds = -(-count // round_size)
    per_round = -(-count // rounds)
    n = -(-per_round // groups)  # lanes
    if len(body) < 4 * n or (len(body) - 4 * n) % 2:
        raise ValueError("bad model chunk length")
    states = np.frombuffer(body[: 4 * n], "<u4")
    words = np.frombuffer(body[4 * n :], "<u2")
    if any(int(s) < 1 << 16 for s in states):
        raise ValueError("initial state below 2^16")
    lanes = Lanes(states, words)
    height, width = (int(v) for v in m["shape"])
    win = m["window"]
    top = int(-win[:, 0].min())
    side = int(np.abs(win[:, 1]).max())
    bin_idx, centres = bins_of(k)
    nbins = len(centres)
    images = []
    for rnd in range(rounds):
        size = min(per_round, count - rnd * per_round)
        # image i of the round: group i // n, lane i % n; within a step the groups go in order
        order = list(range(size))
        lane = [i % n for i in order]
        rec = np.zeros((size, height + top, width + 2 * side), np.int64)
        for r in range(height):
            for c in range(width):
                p = r * width + c
                outs = []
                for i in order:
                    x = np.array([rec[i, r + top + dr, c + side + dc] for dr, dc in win], np.int64)
                    outs.append(network(m, x, p))
                nonzero = []
                for i in order:  # step 1: gate on every image of the round
                    zg = outs[i][0]
                    f0 = int(m["sig"][min(max((zg >> 14) + 256, 0), 511)])
                    if lanes.decode(lane[i], [f0, 65536 - f0]) == 1:
                        nonzero.append(i)
                if k == 0:
                    highs = {}
                    for i in nonzero:  # step 2: high nibble
                        highs[i] = lanes.decode(lane[i], normalize(weights(m, outs[i][1])))
                    for i in nonzero:  # step 3: low nibble
                        low = lanes.decode(lane[i], normalize(weights(m, outs[i][2][highs[i]])))
                        rec[i, r + top, c + side] = 16 * highs[i] + low
                else:
                    for i in nonzero:  # step 2: the bin
                        _, zc, zf = outs[i]
                        G = normalize(weights(m, zc))
                        L = [normalize(weights(m, zf[h])) for h in range(16)]
                        bw = [0] * nbins
                        for v in range(1, 256):
                            if bin_idx[v] >= 1:
                                bw[bin_idx[v]] += G[v >> 4] * L[v >> 4][v & 15]
                        s = 1 + lanes.decode(lane[i], normalize(bw[1:]))
                        rec[i, r + top, c + side] = centres[s]
        images.append(rec[:, top:, side : side + width])
    if lanes.pos != len(lanes.words) or any(x != 1 << 16 for x in lanes.x):
        raise ValueError("rANS stream does not end cleanly")
    return np.concatenate(images).astype(np.uint8)


def uleb(buf, pos):
    value = shift = 0
    for i in range(5):
        b = buf[pos + i]
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos + i + 1
    raise ValueError("ULEB128 longer than 5 bytes")


def decode(payload, count, height, width, k, model_arrays, max_chunk=8192, layouts=LAYOUTS):
    m = {name: np.asarray(model_arrays[name], np.int64) for name in NAMES}
    if payload[0] not in layouts or payload[1] != k:
        raise ValueError("bad version or K")
    round_size, groups = layouts[payload[0]]
    n = -(-count // max_chunk)
    if n > 1 and n % 2:
        n += 1
    spans = [(i * count // n, (i + 1) * count // n) for i in range(n)]
    pos = 2
    table = []
    for _ in spans:
        mode = payload[pos]
        length, pos = uleb(payload, pos + 1)
        table.append((mode, length))
    if pos + sum(t[1] for t in table) != len(payload):
        raise ValueError("lengths do not add up")
    out = []
    for (a, b), (mode, length) in zip(spans, table):
        body = payload[pos : pos + length]
        pos += length
        size = (b - a) * height * width
        if mode == 0:
            out.append(decode_model_chunk(m, body, b - a, k, round_size, groups))
        elif mode == 1:
            d = 4096
            while d < size:
                d *= 2
            filt = [{"id": lzma.FILTER_LZMA2, "dict_size": d}]
            dec = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=filt)
            raw = dec.decompress(body)
            if len(raw) != size or not dec.eof:
                raise ValueError("bad LZMA chunk")
            out.append(np.frombuffer(raw, np.uint8).reshape(b - a, height, width))
        elif mode == 2:
            if len(body) != size:
                raise ValueError("bad stored chunk")
            out.append(np.frombuffer(body, np.uint8).reshape(b - a, height, width))
        else:
            raise ValueError(f"unknown mode {mode}")
    return np.concatenate(out) if out else np.zeros((0, height, width), np.uint8)
