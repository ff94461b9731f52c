"""Glyphs rendered from font files, for the digit check (Pillow; deterministic per seed).

Two uses, on two disjoint sets of fonts:

- **evaluation** (scripts/verdict_rates.py): every font file in :data:`EVAL_FONT_DIRS`
  (Debian packages fonts-dejavu-core/-extra, fonts-liberation, fonts-freefont-ttf: the
  DejaVu, Liberation and GNU FreeFont families), each character drawn once per size by
  :func:`render`;
- **training** (:mod:`aezip.training.classifier` ``--fonts DIR``): the font files below
  DIR, which must share no family with the evaluation fonts (:func:`training_fonts`
  refuses DejaVu, Bitstream Vera, Liberation, Arimo/Tinos/Cousine, GNU Free*, and the URW
  and TeX Gyre fonts FreeFont was made from).  ``scripts/get_train_fonts.sh DIR`` unpacks
  :data:`TRAIN_PACKAGES` there (``apt-get download`` + ``dpkg -x``: nothing is installed,
  so the evaluation set below /usr/share/fonts is unchanged).  :func:`augmented_glyphs`
  draws random characters from them at random sizes, stroke widths and affine moves.

Both put the drawing through :func:`aezip.inputs.mnist_preprocess`, as the CLI does for
images that are not 28x28 white ink on black.
"""

import string
from pathlib import Path

import numpy as np

from ..inputs import mnist_preprocess

__all__ = ["EVAL_FONT_DIRS", "TRAIN_PACKAGES", "NEGATIVE_CHARS", "LOOKS_LIKE_A_DIGIT", "BAR_LIKE", "font_files",
           "eval_fonts", "training_fonts", "render", "augmented_glyphs", "reject_bar"]

EVAL_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/freefont",
                  "/usr/share/fonts/truetype/liberation")
# File-name prefixes of the evaluation families and of fonts derived from them or they from
# (Bitstream Vera -> DejaVu; Arimo/Tinos/Cousine = Liberation 2; URW Nimbus / TeX Gyre -> FreeFont).
EVAL_RELATED = ("dejavu", "vera", "liberation", "arimo", "tinos", "cousine", "free", "nimbus", "texgyre",
                "urw", "hack")

# Debian packages whose fonts the bundled classifier trained on (none shares a family with
# EVAL_FONT_DIRS); scripts/get_train_fonts.sh unpacks them.
TRAIN_PACKAGES = ("fonts-open-sans", "fonts-lato", "fonts-cantarell", "fonts-crosextra-caladea",
                  "fonts-linuxlibertine", "fonts-ebgaramond", "fonts-inconsolata", "fonts-go", "fonts-sil-gentium",
                  "fonts-comic-neue", "fonts-roboto-slab", "fonts-oxygen", "fonts-noto-mono", "fonts-cabin",
                  "fonts-quicksand", "fonts-jura", "fonts-humor-sans", "fonts-comfortaa", "fonts-league-spartan",
                  "fonts-courier-prime", "fonts-mononoki", "fonts-b612", "fonts-play", "fonts-firacode", "fonts-stix",
                  "fonts-roboto-unhinted")

# Characters that honestly look like a digit (O o -> 0; l I | -> 1): never negatives.
LOOKS_LIKE_A_DIGIT = "OolI|"
# Characters that are a plain stroke, like a slanted or bent 1: negatives only where a
# rendering is not one upright bar (nondigits.looks_like_a_one).  Other characters (such as
# [ ] { } ! i j, whose hooks and dots are what sets them apart from a 1) are always negatives.
BAR_LIKE = "/\\()"
# Negatives: letters and symbols, more than the evaluation draws (its letters and
# +-=*/#@%&?!()[]<>{}$), less LOOKS_LIKE_A_DIGIT.
NEGATIVE_CHARS = "".join(c for c in string.ascii_letters + "+-=*/#@%&?!()[]<>{}$~^_;:\\\"'`,.§¶©®µßÆŒæœøÐÞþ€£¥¢"
                         if c not in LOOKS_LIKE_A_DIGIT)


def font_files(dirs):
    """Every .ttf/.otf below *dirs*, sorted by path within each."""
    out = []
    for d in dirs:
        p = Path(d)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in (".ttf", ".otf"))
    return out


def eval_fonts():
    return font_files(EVAL_FONT_DIRS)


def _related_to_eval(path):
    name = Path(path).name.lower()
    return any(name.startswith(p) for p in EVAL_RELATED)


def training_fonts(folder):
    """The usable font files below *folder*: Latin fonts (they draw 'A', 'a' and '5' unlike a
    missing glyph; not STIX's private-use "NonUnicode" files), none related to the evaluation
    fonts (ValueError if one is, by name or by content)."""
    from PIL import ImageFont
    from ..idx import sha256_file
    out = []
    evals = eval_fonts()
    eval_names, eval_sha = {f.name for f in evals}, {sha256_file(f) for f in evals}
    for f in font_files([folder]):
        if f.name in eval_names or _related_to_eval(f) or sha256_file(f) in eval_sha:
            raise ValueError(f"{f}: an evaluation font (or one related to them) cannot be a training font")
        if "nonunicode" in f.name.lower():
            continue
        try:
            font = ImageFont.truetype(str(f), 32)
            missing = bytes(font.getmask("\ue000"))
            if all(bytes(font.getmask(c)) != missing and font.getbbox(c)[2] > font.getbbox(c)[0] for c in "Aa5"):
                out.append(f)
        except OSError:
            continue
    return out


def render(font_path, size, ch):
    """One glyph, black on white, then aezip's MNIST preprocessing; None if the font has no ink for it."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), size)
    box = font.getbbox(ch)
    if box is None or box[2] <= box[0] or box[3] <= box[1]:
        return None
    img = Image.new("L", (3 * size, 3 * size), 255)
    ImageDraw.Draw(img).text((size, size), ch, fill=0, font=font)
    a = np.asarray(img, np.float64) / 255
    if a.min() > 0.5:
        return None
    return mnist_preprocess(a)


def reject_bar(image, ch):
    """True for a rendering of a BAR_LIKE character that is one upright bar (an MNIST "1")."""
    from .nondigits import looks_like_a_one
    return ch in BAR_LIKE and looks_like_a_one(image)


def _draw(rng, font, size, ch):
    """A glyph with random stroke width and affine move, black on white (float [0, 1]), or None."""
    from PIL import Image, ImageDraw, ImageFilter
    img = Image.new("L", (4 * size, 4 * size), 255)
    ImageDraw.Draw(img).text((int(1.5 * size), int(1.5 * size)), ch, fill=0, font=font)
    r = rng.random()
    k = 3 if size < 48 else 5
    if r < 0.25:
        img = img.filter(ImageFilter.MinFilter(k))          # bolder: the dark ink grows
    elif r < 0.4:
        img = img.filter(ImageFilter.MaxFilter(3))          # thinner
    ang = np.deg2rad(rng.uniform(-12, 12))
    shear = rng.uniform(-0.25, 0.25) if rng.random() < 0.5 else 0.0
    sx, sy = np.exp(rng.uniform(-0.2, 0.2, 2))
    c, s = np.cos(ang), np.sin(ang)
    m = np.array([[c, -s], [s, c]]) @ np.array([[1, shear], [0, 1]]) @ np.diag([sx, sy])
    inv = np.linalg.inv(m)
    w = img.size[0] / 2
    off = np.array([w, w]) - inv @ np.array([w, w])
    img = img.transform(img.size, Image.AFFINE, (inv[0, 0], inv[0, 1], off[0], inv[1, 0], inv[1, 1], off[1]),
                        resample=Image.BILINEAR, fillcolor=255)
    a = np.asarray(img, np.float64) / 255
    return None if a.min() > 0.5 else a


def augmented_glyphs(n, fonts, chars, seed, reject=None):
    """*n* glyphs uint8 (n, 28, 28) and their characters: each a random character of *chars* in a
    random font of *fonts* at a random size (16-80 px), stroke width (25 % bolder by a 3x3 or
    5x5 minimum filter, 15 % thinner by a 3x3 maximum) and affine move (rotation +-12 deg, half
    with shear +-0.25, scale 0.82-1.22 per axis), through mnist_preprocess.  Characters a font
    lacks (drawn like its missing-glyph box) are skipped; so is a result for which *reject*
    (a function of the 28x28 image and the character) is true."""
    from PIL import ImageFont
    rng = np.random.default_rng(seed)
    cache, has = {}, {}
    out = np.empty((n, 28, 28), np.uint8)
    labels = []
    i = 0
    while i < n:
        f = fonts[int(rng.integers(len(fonts)))]
        ch = chars[int(rng.integers(len(chars)))]
        if (f, ch) not in has:
            probe = ImageFont.truetype(str(f), 32)
            box = probe.getbbox(ch)
            has[f, ch] = bool(box and box[2] > box[0] and box[3] > box[1]) and \
                bytes(probe.getmask(ch)) != bytes(probe.getmask("\ue000"))
        size = int(rng.integers(16, 81))
        if not has[f, ch]:
            continue
        key = (f, size)
        if key not in cache:
            cache[key] = ImageFont.truetype(str(f), size)
        a = _draw(rng, cache[key], size, ch)
        if a is None:
            continue
        g = mnist_preprocess(a)
        if reject is not None and reject(g, ch):
            continue
        out[i] = g
        labels.append(ch)
        i += 1
    return out, labels
