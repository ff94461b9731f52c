"""Synthetic non-digits for the digit check's classifier (numpy and Pillow, deterministic per seed).

:func:`make_negatives` makes class 10 ("not a digit") of :mod:`aezip.training.classifier`:
noise, smooth random fields, gradients, flat gray, filled shapes, random pen strokes and
smooth curves, made-up glyphs, parts with a separate dot, and MNIST training digits made
into non-digits.  Nothing that is one upright bar (an MNIST "1") is kept (:func:`looks_like_a_one`).
"""

import numpy as np

from ..inputs import mnist_preprocess

__all__ = ["make_negatives", "looks_like_a_one", "NEGATIVE_KINDS"]

NEGATIVE_KINDS = ["noise", "field", "gradient", "flat", "shape", "strokes", "curves", "glyph", "dotted",
                  "inverted", "off-centre", "crop", "half", "overlay", "turned", "smeared"]


def _noise(rng, digits):
    density = rng.uniform(0.05, 1.0)
    amp = rng.uniform(0.3, 1.0)
    a = rng.random((28, 28)) * amp * (rng.random((28, 28)) < density)
    return np.rint(a * 255).astype(np.uint8)


def _field(rng, digits):
    """A smooth random field (photo-like), optionally thresholded into blobs."""
    from PIL import Image
    k = int(rng.integers(2, 9))
    small = (rng.random((k, k)) * 255).astype(np.uint8)
    a = np.asarray(Image.fromarray(small).resize((28, 28), Image.BICUBIC), np.float64) / 255
    if rng.random() < 0.5:
        a = (a > rng.uniform(0.3, 0.7)) * rng.uniform(0.5, 1.0)
    return np.rint(np.clip(a, 0, 1) * 255).astype(np.uint8)


def _gradient(rng, digits):
    yy, xx = np.mgrid[0:28, 0:28] / 27.0
    if rng.random() < 0.6:
        t = rng.uniform(0, 2 * np.pi)
        a = np.cos(t) * xx + np.sin(t) * yy
    else:
        cy, cx = rng.uniform(0, 1, 2)
        a = -np.hypot(yy - cy, xx - cx)
    a = (a - a.min()) / max(np.ptp(a), 1e-9)
    lo, hi = np.sort(rng.uniform(0, 1, 2))
    return np.rint((lo + (hi - lo) * a) * 255).astype(np.uint8)


def _flat(rng, digits):
    a = np.full((28, 28), rng.uniform(0, 1))
    if rng.random() < 0.4:  # a flat patch on black
        y0, x0 = rng.integers(0, 20, 2)
        h, w = rng.integers(5, 28, 2)
        b = np.zeros((28, 28))
        b[y0:y0 + h, x0:x0 + w] = a[0, 0]
        a = b
    return np.rint(a * 255).astype(np.uint8)


def _canvas(rng, draw_fn):
    from PIL import Image, ImageDraw
    img = Image.new("L", (112, 112), 0)
    draw_fn(ImageDraw.Draw(img), rng)
    a = np.asarray(img)
    return mnist_preprocess(a) if a.any() else np.zeros((28, 28), np.uint8)


def _shape(rng, digits):
    def draw(d, rng):
        for _ in range(int(rng.integers(1, 3))):
            kind = rng.integers(3)
            x0, x1, y0, y1 = np.sort(rng.uniform(5, 107, (2, 2)), axis=0).T.ravel().tolist()
            fill = int(rng.integers(120, 256))
            if kind == 0:
                d.ellipse([x0, y0, x1, y1], fill=fill)
            elif kind == 1:
                d.rectangle([x0, y0, x1, y1], fill=fill)
            else:
                pts = [tuple(p) for p in rng.uniform(5, 107, (int(rng.integers(3, 7)), 2)).tolist()]
                d.polygon(pts, fill=fill)
    return _canvas(rng, draw)


def _strokes(rng, digits):
    """Random pen strokes: polylines and arcs, never one near-vertical bar (that is a 1)."""
    def draw(d, rng):
        width = int(rng.integers(6, 16))
        n = int(rng.integers(1, 4))
        for _ in range(n):
            if rng.random() < 0.35:
                x0, y0 = rng.uniform(10, 60, 2)
                s = rng.uniform(30, 50)
                start = rng.uniform(0, 360)
                d.arc([x0, y0, x0 + s, y0 + s * rng.uniform(0.5, 1.5)], start, start + rng.uniform(60, 300),
                      fill=255, width=width)
            else:
                k = int(rng.integers(2, 6))
                pts = rng.uniform(8, 104, (k, 2))
                if n == 1 and k == 2:
                    dx, dy = np.abs(pts[1] - pts[0])
                    if dx < dy * 1.2:   # closer to vertical than ~40 degrees: would be a "1"
                        pts[1, 0] = pts[0, 0] + np.sign(rng.random() - 0.5) * dy * 1.5
                d.line([tuple(p) for p in pts.tolist()], fill=255, width=width, joint="curve")
    return _canvas(rng, draw)


def _glyph(rng, digits):
    """A made-up printed glyph: 2-5 straight or curved strokes between points of a 3x4 grid,
    one pen width, sometimes serifs at the stroke ends and an italic slant."""
    def draw(d, rng):
        w, h = rng.uniform(40, 90), rng.uniform(70, 96)
        x0, y0 = (112 - w) / 2, (112 - h) / 2
        slant = rng.uniform(-0.3, 0.3) if rng.random() < 0.3 else 0.0
        gx = x0 + w * np.array([0, 0.5, 1])
        gy = y0 + h * np.array([0, 1 / 3, 2 / 3, 1])

        def pt(i):
            cx, cy = gx[i % 3], gy[i // 3]
            return (cx + slant * (56 - cy), cy)

        width = int(rng.integers(4, 15))
        serif = rng.random() < 0.3
        for _ in range(int(rng.integers(2, 6))):
            a, b = rng.choice(12, 2, replace=False)
            pa, pb = pt(a), pt(b)
            if rng.random() < 0.3:   # a bowl: half an ellipse spanned by the two points
                box = [min(pa[0], pb[0]) - w / 4, min(pa[1], pb[1]), max(pa[0], pb[0]) + w / 4,
                       max(pa[1], pb[1]) + 1]
                if box[3] - box[1] < 8:
                    box[1], box[3] = box[1] - h / 6, box[3] + h / 6
                start = float(rng.choice([0, 90, 180, 270]))
                d.arc(box, start, start + 180, fill=255, width=width)
            else:
                d.line([pa, pb], fill=255, width=width)
                if serif:
                    for p in (pa, pb):
                        d.line([(p[0] - w / 8, p[1]), (p[0] + w / 8, p[1])], fill=255, width=max(2, width // 2))
    return _canvas(rng, draw)


def _dotted(rng, digits):
    """Two parts that do not touch: a stroke, glyph or digit with a dot or short dash beside it."""
    from PIL import Image, ImageDraw
    base = [_strokes, _glyph, lambda r, d: _pick(r, d)[0]][int(rng.integers(3))](rng, digits)
    img = Image.fromarray(np.zeros((56, 56), np.uint8))
    img.paste(Image.fromarray(base), (14, 14))
    d = ImageDraw.Draw(img)
    side = rng.integers(4)
    cx, cy = [(28, 8), (28, 48), (8, 28), (48, 28)][side]
    cx, cy = cx + rng.uniform(-6, 6), cy + rng.uniform(-6, 6)
    r = rng.uniform(1.5, 4)
    if rng.random() < 0.7:
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    else:
        d.line([(cx - 2 * r, cy), (cx + 2 * r, cy)], fill=255, width=int(max(2, r)))
    return mnist_preprocess(np.asarray(img))


def _spline(points, steps=24):
    """Points along a Catmull-Rom spline through *points* (k, 2)."""
    p = np.concatenate([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, steps, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                          + (3 * p1 - p0 - 3 * p2 + p3) * t ** 3))
    out.append(p[-2:-1])
    return np.concatenate(out)


def _curves(rng, digits):
    """Smooth pen curves: 1-2 splines through 3-6 random points, sometimes with a straight stroke."""
    def draw(d, rng):
        width = int(rng.integers(5, 15))
        for _ in range(int(rng.integers(1, 3))):
            pts = _spline(rng.uniform(10, 102, (int(rng.integers(3, 7)), 2)))
            d.line([tuple(p) for p in pts.tolist()], fill=255, width=width, joint="curve")
        if rng.random() < 0.3:
            a, b = rng.uniform(10, 102, (2, 2)).tolist()
            d.line([tuple(a), tuple(b)], fill=255, width=width)
    return _canvas(rng, draw)


def _pick(rng, digits, exclude=()):
    x, y = digits
    while True:
        i = int(rng.integers(len(x)))
        if y[i] not in exclude:
            return x[i], int(y[i])


def _inverted(rng, digits):
    return 255 - _pick(rng, digits)[0]


def _off_centre(rng, digits):
    a = _pick(rng, digits)[0]
    dy, dx = rng.integers(-12, 13, 2)
    if abs(dy) + abs(dx) < 8:
        dx = 8 if dx >= 0 else -8
    return np.roll(np.roll(a, dy, 0), dx, 1) * _keep_mask(dy, dx)


def _keep_mask(dy, dx):
    m = np.ones((28, 28), np.uint8)
    if dy > 0:
        m[:dy] = 0
    elif dy < 0:
        m[dy:] = 0
    if dx > 0:
        m[:, :dx] = 0
    elif dx < 0:
        m[:, dx:] = 0
    return m


def _crop(rng, digits):
    from PIL import Image
    a = _pick(rng, digits, exclude=(1,))[0]
    y0, x0 = rng.integers(0, 14, 2)
    part = Image.fromarray(np.ascontiguousarray(a[y0:y0 + 14, x0:x0 + 14])).resize((28, 28), Image.BILINEAR)
    return np.asarray(part)


def _half(rng, digits):
    a = _pick(rng, digits, exclude=(1,))[0].copy()
    side = rng.integers(4)
    cut = int(rng.integers(11, 17))
    if side == 0:
        a[:cut] = 0
    elif side == 1:
        a[cut:] = 0
    elif side == 2:
        a[:, :cut] = 0
    else:
        a[:, cut:] = 0
    return mnist_preprocess(a) if a.max() > 40 else a


def _overlay(rng, digits):
    a, la = _pick(rng, digits)
    b, _ = _pick(rng, digits, exclude=(la,))
    if rng.random() < 0.5:
        return np.maximum(a, b)
    return mnist_preprocess(np.concatenate([a, b], axis=1))  # two digits side by side


def _turned(rng, digits):
    a = _pick(rng, digits, exclude=(0,))[0]
    return np.ascontiguousarray(np.rot90(a, 1 if rng.random() < 0.5 else 3))


def _smeared(rng, digits):
    """A digit thickened into a blob (3-5 passes of a 3x3 maximum) or smeared sideways."""
    a = _pick(rng, digits)[0].astype(np.int32)
    if rng.random() < 0.5:
        for _ in range(int(rng.integers(3, 6))):
            p = np.pad(a, 1)
            a = np.max([p[i:i + 28, j:j + 28] for i in range(3) for j in range(3)], axis=0)
    else:
        k = int(rng.integers(6, 12))
        p = np.pad(a, ((0, 0), (k, k)))
        a = np.max([p[:, j:j + 28] for j in range(0, 2 * k + 1)], axis=0)
    return a.astype(np.uint8)


_MAKERS = {"noise": _noise, "field": _field, "gradient": _gradient, "flat": _flat, "shape": _shape,
           "strokes": _strokes, "curves": _curves, "glyph": _glyph, "dotted": _dotted, "inverted": _inverted, "off-centre": _off_centre, "crop": _crop,
           "half": _half, "overlay": _overlay, "turned": _turned, "smeared": _smeared}
# Relative share of each kind: pen strokes and reused digits, the hard cases, get the most.
_SHARE = {"noise": 2, "field": 2, "gradient": 1, "flat": 1, "shape": 2, "strokes": 4, "curves": 6, "glyph": 10, "dotted": 3,
          "inverted": 1, "off-centre": 1, "crop": 2, "half": 2, "overlay": 2, "turned": 2, "smeared": 1}


def looks_like_a_one(a):
    """True for a single bar closer to vertical than 45 degrees: an MNIST "1", not a non-digit.

    Measured on the ink's second moments: elongation sqrt(minor / major) below 0.3.
    """
    w = a.astype(np.float64)
    total = w.sum()
    if total <= 0:
        return False
    yy, xx = np.mgrid[0:28, 0:28]
    cy, cx = (w * yy).sum() / total, (w * xx).sum() / total
    syy = (w * (yy - cy) ** 2).sum() / total
    sxx = (w * (xx - cx) ** 2).sum() / total
    sxy = (w * (yy - cy) * (xx - cx)).sum() / total
    vals, vecs = np.linalg.eigh(np.array([[syy, sxy], [sxy, sxx]]))
    if vals[1] <= 0 or np.sqrt(max(vals[0], 0) / vals[1]) >= 0.3:
        return False
    major = vecs[:, 1]           # (dy, dx) of the long axis
    return abs(major[0]) > abs(major[1])


def make_negatives(n, digits, seed):
    """*n* synthetic non-digits, uint8 (n, 28, 28), plus the kind index of each (into NEGATIVE_KINDS).

    *digits* is (images, labels) of MNIST training digits to reuse; deterministic for a seed.
    """
    rng = np.random.default_rng(seed)
    shares = np.array([_SHARE[k] for k in NEGATIVE_KINDS], np.float64)
    counts = np.floor(shares / shares.sum() * n).astype(int)
    counts[NEGATIVE_KINDS.index("strokes")] += n - counts.sum()
    out = np.empty((n, 28, 28), np.uint8)
    kinds = np.empty(n, np.int64)
    i = 0
    for k, c in zip(NEGATIVE_KINDS, counts):
        make = _MAKERS[k]
        for _ in range(c):
            a = make(rng, digits)
            for _ in range(20):   # a shape, stroke or piece that is one upright bar is a "1": draw again
                if not looks_like_a_one(a):
                    break
                a = make(rng, digits)
            out[i] = a
            kinds[i] = NEGATIVE_KINDS.index(k)
            i += 1
    return out, kinds
